"""ablab.cli."""
