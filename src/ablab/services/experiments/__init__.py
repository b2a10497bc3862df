"""What an experiment is made of: its lifecycle, the model catalogue, metric definitions,
allocation periods, and the rollout a promotion starts.
"""
