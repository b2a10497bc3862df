"""What an analysis of an experiment asks of the event store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ablab.domain.experiments import Experiment
from ablab.domain.metrics import CustomMetric, MetricDefinition
from ablab.errors import ValidationError
from ablab.services.assignment.assign import rollouts_of
from ablab.services.context import Context
from ablab.services.experiments.lifecycle import require_experiment
from ablab.services.experiments.metrics import resolve_metrics
from ablab.services.ports import MetricRequest

__all__ = ["AnalysisSetup", "Definition", "analysis_setup", "covariate_label"]

Definition = MetricDefinition | CustomMetric

_SEGMENT_ATTRIBUTE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class AnalysisSetup:
    experiment: Experiment
    definitions: dict[str, Definition]
    request: MetricRequest


def analysis_setup(ctx: Context, ref: str, *, segment: str | None = None) -> AnalysisSetup:
    """The experiment, the definitions of the metrics it names, and the event request.

    CUPED's pre-window is the ``cuped_lookback_days`` before launch; the predictions in it
    come from the project's experiments that started before this one (a unit's earlier
    experience of the same model). An explicit ``cuped_covariate`` replaces the window.
    A promoted experiment's rollout logs its traffic under the experiment, at the rollout's
    split: the experiment's own results end where its rollout began.

    Raises:
        NotFound: no such experiment, or a metric it names is no longer defined.
        ValidationError: the experiment has no variants yet, or a malformed segment name.
    """
    if segment is not None and not (
        segment.replace("_", "").replace("-", "").replace(".", "").isalnum()
        and len(segment) <= _SEGMENT_ATTRIBUTE_LENGTH
    ):
        raise ValidationError(
            f"invalid segment attribute {segment!r}: use letters, digits, '_', '-' or '.'",
            details={"segment": segment},
        )
    with ctx.store.session(read_only=True) as session:
        experiment = require_experiment(session, ctx, ref)
        if len(experiment.variants) < 2:
            raise ValidationError(
                f"experiment {experiment.name!r} has no variants to compare yet",
                details={"experiment": experiment.name},
            )
        names = (
            experiment.primary_metric,
            *experiment.secondary_metrics,
            *(g.metric for g in experiment.guardrails),
        )
        definitions = resolve_metrics(session, ctx, names)
        own_rollout, _ = rollouts_of(session, experiment)
        started = experiment.started_at
        window = None
        prior: tuple[str, ...] = ()
        if experiment.cuped and experiment.cuped_covariate is None and started is not None:
            window = (started - timedelta(days=experiment.cuped_lookback_days), started)
            prior = tuple(
                e.id
                for e in session.list_experiments(ctx.project_id)
                if e.id != experiment.id and e.started_at is not None and e.started_at < started
            )
    custom = tuple(d for d in definitions.values() if isinstance(d, CustomMetric))
    request = MetricRequest(
        project_id=ctx.project_id,
        experiment_id=experiment.id,
        custom=custom,
        pre_window=window,
        prior_experiment_ids=prior,
        covariate=experiment.cuped_covariate if experiment.cuped else None,
        segment=segment,
        until=own_rollout.created_at if own_rollout is not None else None,
    )
    return AnalysisSetup(experiment, definitions, request)


def covariate_label(experiment: Experiment, metric: str) -> str:
    """How CUPED adjusted ``metric``, in words for the report."""
    if experiment.cuped_covariate is not None:
        return f"metric events {experiment.cuped_covariate!r} (per-unit mean)"
    return f"{metric} in the {experiment.cuped_lookback_days} days before launch"
