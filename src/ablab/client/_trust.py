"""The policies of a person's own machine, for the local store and in-process routing."""

from __future__ import annotations

from ablab.domain.trust import Trust
from ablab.settings import Settings

__all__ = ["local_trust"]


def local_trust(settings: Settings) -> Trust:
    """Any model file or module, any destination (a person can run any code on their own
    machine already); MLflow and skops as their settings say."""
    tracking, registry = settings.mlflow_tracking_uri, settings.mlflow_registry_uri
    return Trust.local(
        mlflow_tracking_uri=tracking.get_secret_value() if tracking else None,
        mlflow_registry_uri=registry.get_secret_value() if registry else None,
        skops_trusted_types=settings.skops_trusted_types,
    )
