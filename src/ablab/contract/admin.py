"""Wire schemas of the console's API, ``/v1/admin/experiments`` (seed 004).

Its shapes are the console's own: ``bandit_enabled``, ``traffic_weight`` as a fraction
(0.5 is half), an optional ``project_id`` that must be the key's project.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ablab.contract.base import RequestSchema
from ablab.contract.fields import Flag, Identifier, Label, Text

__all__ = ["AdminExperimentCreate", "AdminVariantCreate"]


class AdminExperimentCreate(RequestSchema):
    name: Label
    hypothesis: Text = ""
    bandit_enabled: Flag = False
    project_id: Identifier | None = None
    model_id: Identifier | None = None
    primary_metric: Identifier = "accuracy"


class AdminVariantCreate(RequestSchema):
    name: Label
    traffic_weight: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1)] = Field(
        description="share of traffic, 0..1"
    )
    model_version: Identifier | None = None
