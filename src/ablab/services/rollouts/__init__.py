"""Promotion and the progressive rollout that follows it, step by step."""
