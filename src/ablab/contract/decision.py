"""Wire schema of ``GET /v1/experiments/{ref}/decision``: pass, fail or inconclusive."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Identifier, Text
from ablab.domain.limits import MAX_LIST_ITEMS

__all__ = ["DecisionEvidence", "ExperimentDecision", "FlaggerHook"]


class DecisionEvidence(Schema):
    metric: str
    relative_lift: float | None
    relative_ci: tuple[float | None, float | None]
    p_value: float | None
    always_valid_p_value: float | None
    significant: bool
    min_samples_reached: bool
    srm_mismatch: bool
    broken_guardrails: list[str]
    units: dict[str, int]


class ExperimentDecision(Schema):
    """For a deployment controller: Argo Rollouts reads ``decision`` with a JSONPath;
    Flagger's webhook reads the status of ``POST .../decision/webhook`` (200 pass, 412
    fail, 425 inconclusive)."""

    experiment: str
    status: str
    decision: Literal["pass", "fail", "inconclusive"]
    action: str
    variant: str | None
    reason: str
    evidence: DecisionEvidence


class FlaggerHook(RequestSchema):
    """What Flagger's webhooks post; a key may come in ``metadata.api_key`` (Flagger sends
    no headers of its own)."""

    name: Identifier | None = None
    namespace: Identifier | None = None
    phase: Identifier | None = None
    metadata: dict[Identifier, Text] = Field(default_factory=dict, max_length=MAX_LIST_ITEMS)
