"""ablab.contract."""
