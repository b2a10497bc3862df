"""The go/no-go of an experiment for a deployment controller (Argo Rollouts, Flagger).

``pass``: promote (a significant improvement on the primary metric, the minimum samples
reached, no guardrail broken, no sample ratio mismatch). ``fail``: roll back or keep the
control (harm, a broken guardrail, a mismatch). ``inconclusive``: keep waiting.
"""

from __future__ import annotations

from ablab.contract.decision import DecisionEvidence, ExperimentDecision
from ablab.contract.results import ExperimentResults

__all__ = ["decision_of"]

_VERDICTS = {"promote": "pass", "rollback": "fail", "keep_control": "fail"}


def decision_of(results: ExperimentResults) -> ExperimentDecision:
    recommendation = results.recommendation
    verdict = _VERDICTS.get(recommendation.action, "inconclusive")
    if any(g.violated for g in results.guardrails) or results.srm.mismatch:
        verdict = "fail"
    primary = results.primary_comparison
    return ExperimentDecision(
        experiment=results.experiment.name,
        status=results.experiment.status.value,
        decision=verdict,
        action=recommendation.action,
        variant=recommendation.variant,
        reason=recommendation.reason,
        evidence=DecisionEvidence(
            metric=results.primary_metric,
            relative_lift=primary.relative_lift if primary else None,
            relative_ci=primary.relative_ci if primary else (None, None),
            p_value=primary.p_value if primary else None,
            always_valid_p_value=primary.always_valid_p_value if primary else None,
            significant=results.is_significant,
            min_samples_reached=results.min_samples_reached,
            srm_mismatch=results.srm.mismatch,
            broken_guardrails=[
                f"{g.variant}: {g.metric}{g.bound}{g.threshold:g}"
                for g in results.guardrails
                if g.violated
            ],
            units={v.name: v.units for v in results.variants},
        ),
    )
