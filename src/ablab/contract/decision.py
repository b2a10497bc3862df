"""Wire schema of ``GET /v1/experiments/{ref}/decision``: pass, fail or inconclusive."""

from __future__ import annotations

from typing import Literal

from ablab.contract.base import Schema

__all__ = ["DecisionEvidence", "ExperimentDecision"]


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
