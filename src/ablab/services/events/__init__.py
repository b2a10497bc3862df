"""Events in: column-wise validation, idempotent storage, and the SDK's buffer."""
