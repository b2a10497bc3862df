"""Projects, API keys, console users and sessions, the audit log, and what the server may load
or reach.
"""
