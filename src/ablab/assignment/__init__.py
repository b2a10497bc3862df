"""ablab.assignment."""
