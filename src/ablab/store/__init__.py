"""Storage adapters: the only place that writes SQL."""
