"""Offline LLM configuration experiments: definitions, runs with leases, results and
completion.
"""
