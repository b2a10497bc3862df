"""ablab.domain."""
