"""The model gateway: backends, the circuit breaker, the router and shadow mirroring."""
