"""Wire schemas of the console's API, ``/v1/admin/experiments`` (seed 004).

Its shapes are the console's own where seed 004 needs them: ``traffic_weight`` as a
fraction (0.5 is half), an optional ``project_id`` that must be the key's project. The
bandit flag is ``bandit`` as in every other request and response; seed 004's
``bandit_enabled`` is still accepted as its old name (not both at once).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from ablab.contract.base import RequestSchema
from ablab.contract.fields import Flag, Identifier, Label, Text
from ablab.contract.renamed import one_spelling, renamed

__all__ = ["AdminExperimentCreate", "AdminVariantCreate"]


class AdminExperimentCreate(RequestSchema):
    name: Label
    hypothesis: Text = ""
    bandit: Flag = renamed("bandit", "bandit_enabled", default=False)
    project_id: Identifier | None = None
    model_id: Identifier | None = None
    primary_metric: Identifier = "accuracy"

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        return one_spelling(cls, data)


class AdminVariantCreate(RequestSchema):
    name: Label
    traffic_weight: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1)] = Field(
        description="share of traffic, 0..1"
    )
    model_version: Identifier | None = None
