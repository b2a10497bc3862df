"""From stored events to results: the tests of each metric, the always-valid looks, guardrails,
SRM, novelty, segments, time series and the decision.
"""
