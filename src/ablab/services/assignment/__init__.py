"""Which variant a unit gets: the ruleset, assignment one by one or in bulk, and durable first
assignments.
"""
