"""Wire schemas of the gateway: ``POST /v1/predict/{experiment}``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Attributes, Identifier

__all__ = ["PredictRequest", "PredictionPublic"]


class PredictRequest(RequestSchema):
    unit_id: Identifier
    attributes: Attributes = Field(default_factory=dict)
    features: Any = Field(description="passed to the model as given")


class PredictionPublic(Schema):
    """The model's answer and who gave it. ``fallback``: the unit's model failed (or its
    circuit is open) and the control answered; the failure is counted against the variant.
    Post a label for ``prediction_id`` later to feed accuracy."""

    prediction: Any
    variant: str | None
    model_version: str | None
    prediction_id: str
    in_experiment: bool
    fallback: bool
