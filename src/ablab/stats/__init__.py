"""ablab.stats."""
