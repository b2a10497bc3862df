"""The domain: experiments, variants, lifecycle, models, groups, metrics. Pure Python."""
