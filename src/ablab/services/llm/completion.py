"""Completing an LLM experiment and naming its winner (seed 002: "review results and pick
a winner").

The baseline may always be named: keeping it needs no evidence. A variant must be
significantly better than the baseline by the verdict the results show (McNemar's score
test, Bonferroni-adjusted over the variants, with the interval that agrees with it; see
:mod:`ablab.services.llm.results`) and better, not worse. Naming one without that evidence
takes ``force`` and a reason, and the audit log keeps both with the evidence there was.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ablab.domain.limits import check_text
from ablab.domain.llm import LlmAction, next_status
from ablab.domain.llm_records import BASELINE, LlmExperiment
from ablab.domain.llm_results import LlmResults
from ablab.errors import Conflict, NotFound, ValidationError
from ablab.services.access.audit import record
from ablab.services.context import Context
from ablab.services.llm.experiments import require_llm_experiment
from ablab.services.llm.results import llm_results

__all__ = ["complete"]


def complete(
    ctx: Context,
    ref: str,
    *,
    winner: str | None = None,
    force: bool = False,
    reason: str = "",
) -> LlmExperiment:
    """Mark the testing done, naming ``winner`` (``baseline`` or a variant's name or id).

    Raises:
        InvalidTransition: the experiment cannot be completed now (a run goes on, the
            baseline has not run, it is completed already).
        NotFound: no such experiment or variant.
        ValidationError: ``force`` or a reason without a winner, ``force`` without a reason,
            or a variant that has not run to the end.
        Conflict: the variant is not significantly better than the baseline and ``force``
            was not given (the message says what the results show).
    """
    reason = check_text(reason.strip(), "reason")
    if winner is None and (force or reason):
        raise ValidationError("force and a reason go with a winner: name one, or leave them out")
    if force and not reason:
        raise ValidationError(
            "naming a winner without significant evidence takes a reason: say why, for the audit"
        )
    with ctx.store.session(read_only=True) as session:
        current = require_llm_experiment(session, ctx, ref)
    status = next_status(current.status, LlmAction.COMPLETE)  # refused before any analysis
    chosen, evidence = None, None
    if winner is not None:
        chosen, evidence = _winner(ctx, current, winner)
    significant = evidence is None or bool(evidence["significantly_better"])
    if not significant and not force:
        raise Conflict(_not_better(current, winner or "", evidence or {}), details=evidence)
    forced = not significant
    with ctx.store.session() as session:
        # Written against the revision read above: a run or a variant added meanwhile
        # changes it, and the write is refused rather than judged on stale results.
        stored = session.update_llm_experiment(
            replace(
                current, status=status, winner=chosen, winner_forced=forced, updated_at=ctx.clock()
            )
        )
        after: dict[str, Any] = {"status": status.value, "winner": chosen, "forced": forced}
        if reason:
            after["reason"] = reason
        if evidence is not None:
            after["evidence"] = evidence
        record(
            ctx,
            session,
            LlmAction.COMPLETE.value,
            "llm_experiment",
            current.id,
            before={"status": current.status.value},
            after=after,
        )
        return stored


def _winner(
    ctx: Context, experiment: LlmExperiment, winner: str
) -> tuple[str, dict[str, Any] | None]:
    """The winner's id, and for a variant what the results say of it against the baseline."""
    if winner == BASELINE:
        return BASELINE, None
    variant = experiment.variant(winner)
    if variant is None:
        raise NotFound(
            f"unknown variant {winner!r}: name baseline or one of the variants",
            details={"winner": winner},
        )
    results: LlmResults = llm_results(ctx, experiment.id)
    row = next((r for r in results.variants if r.variant == variant.id), None)
    if row is None or row.mcnemar is None or row.mcnemar.p_value is None:
        raise ValidationError(
            f"variant {variant.name!r} has no results to judge it by: run it to the end first",
            details={"winner": variant.name},
        )
    test = row.mcnemar
    better = test.significant and (test.difference or 0.0) > 0.0
    return variant.id, {
        "variant": variant.name,
        "difference": test.difference,
        "adjusted_p_value": test.adjusted_p_value,
        "adjusted_ci": list(test.adjusted_ci),
        "adjusted_confidence": test.adjusted_confidence,
        "comparisons": results.comparisons,
        "correction": results.correction,
        "significant": test.significant,
        "significantly_better": better,
    }


def _not_better(experiment: LlmExperiment, winner: str, evidence: dict[str, Any]) -> str:
    name = evidence.get("variant", winner)
    if evidence.get("significant"):
        verdict = "is significantly worse than the baseline"
    else:
        verdict = "is not significantly better than the baseline"
    low, high = evidence.get("adjusted_ci", [None, None])
    shown = ""
    if low is not None and high is not None:
        shown = (
            f" (adjusted p {evidence['adjusted_p_value']:.3g}, "
            f"{evidence['adjusted_confidence']:.1%} interval [{low:+.1%}, {high:+.1%}] "
            f"over {evidence['comparisons']} comparisons)"
        )
    return (
        f"variant {name!r} of {experiment.name!r} {verdict}{shown}: name it anyway with "
        "force and a reason, or name the baseline"
    )
