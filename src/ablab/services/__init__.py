"""ablab.services."""
