"""ablab.client."""
