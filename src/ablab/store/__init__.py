"""ablab.store."""
