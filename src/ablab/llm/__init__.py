"""LLM configuration experiments: evaluators and runners."""
