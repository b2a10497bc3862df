"""An experiment or a rollout as a record: the fields people read, under their public names.

The audit log keeps these records (as JSON) before and after each change, and the wire's
``ExperimentPublic`` and ``RolloutPublic`` are read from them, so the log and the API show
an experiment alike: ``model_id`` (the domain says ``model``), each guardrail with the
``spec`` it was written as, the sequential tuning units with their default filled in.
"""

from __future__ import annotations

from typing import Any

from ablab.domain.experiments import Experiment, Variant
from ablab.domain.guardrails import Guardrail
from ablab.domain.rollouts import Rollout
from ablab.domain.sequential import DEFAULT_TUNING_UNITS

__all__ = ["experiment_record", "guardrail_record", "rollout_record", "variant_record"]


def variant_record(variant: Variant) -> dict[str, Any]:
    return {
        "name": variant.name,
        "model_version": variant.model_version,
        "weight": variant.weight,
        "is_control": variant.is_control,
        "config": dict(variant.config),
    }


def guardrail_record(guardrail: Guardrail) -> dict[str, Any]:
    """``threshold`` is a fraction of the control's value when ``relative``."""
    return {
        "metric": guardrail.metric,
        "bound": guardrail.bound.value,
        "threshold": guardrail.threshold,
        "relative": guardrail.relative,
        "spec": str(guardrail),
    }


def experiment_record(experiment: Experiment) -> dict[str, Any]:
    return {
        "id": experiment.id,
        "name": experiment.name,
        "status": experiment.status,
        "model_id": experiment.model,
        "hypothesis": experiment.hypothesis,
        "variants": [variant_record(v) for v in experiment.variants],
        "traffic_split": experiment.traffic_split,
        "coverage": experiment.coverage,
        "group": experiment.group,
        "primary_metric": experiment.primary_metric,
        "secondary_metrics": list(experiment.secondary_metrics),
        "guardrails": [guardrail_record(g) for g in experiment.guardrails],
        "min_samples": experiment.min_samples,
        "max_duration_days": experiment.max_duration_days,
        "alpha": experiment.alpha,
        "power": experiment.power,
        "mde": experiment.mde,
        "analysis_method": experiment.analysis_method,
        "sequential_tuning_units": experiment.sequential_tuning_units or DEFAULT_TUNING_UNITS,
        "cuped": experiment.cuped,
        "cuped_lookback_days": experiment.cuped_lookback_days,
        "cuped_covariate": experiment.cuped_covariate,
        "bandit": experiment.bandit,
        "shadow": experiment.shadow,
        "auto_promote": experiment.auto_promote,
        "source": experiment.source,
        "winner": experiment.winner,
        "version": experiment.version,
        "created_at": experiment.created_at,
        "updated_at": experiment.updated_at,
        "started_at": experiment.started_at,
        "ended_at": experiment.ended_at,
    }


def rollout_record(rollout: Rollout) -> dict[str, Any]:
    """``share`` is the percent of units on the new version now; ``step`` an index into
    ``steps``; ``reason`` why it last changed."""
    return {
        "id": rollout.id,
        "model": rollout.model,
        "version": rollout.version,
        "previous_version": rollout.previous_version,
        "experiment_id": rollout.experiment_id,
        "status": rollout.status,
        "share": rollout.share,
        "steps": list(rollout.steps),
        "step": rollout.step,
        "step_started_at": rollout.step_started_at,
        "min_step_minutes": rollout.min_step_minutes,
        "min_step_units": rollout.min_step_units,
        "guardrails": [guardrail_record(g) for g in rollout.guardrails],
        "reason": rollout.reason,
        "created_at": rollout.created_at,
        "updated_at": rollout.updated_at,
    }
