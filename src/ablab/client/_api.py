"""The SDK's operations on experiments, rollouts, the catalogue, keys and events, each once.

Each function is what the embedded store does; its decorator names the REST route of
DESIGN.md that does the same on a server (``_operation.py`` says how arguments travel).
The LLM experiments' operations are in ``_llm_api.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ablab.client._operation import Local, operation
from ablab.contract.catalogue import (
    AssignmentPublic,
    AuditEntryPublic,
    GroupCreate,
    GroupPublic,
    ModelPublic,
    ModelVersionCreate,
)
from ablab.contract.events import IngestResultPublic, RejectedEvent
from ablab.contract.experiments import (
    ExperimentCreate,
    ExperimentPublic,
    ExperimentUpdate,
    ExperimentWithWarnings,
    VariantCreate,
)
from ablab.contract.keys import KeyCreate, KeyCreated, KeyPublic
from ablab.contract.metrics import MetricCreate, MetricPublic
from ablab.contract.results import ExperimentResults
from ablab.contract.rollouts import PromoteRequest, RolloutCheckPublic, RolloutPublic
from ablab.contract.sources import SourceCreate, SourcePublic, SourceRefresh
from ablab.contract.timeseries import ExperimentTimeseries
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.domain.rollouts import RolloutAction
from ablab.services.access import audit, keys
from ablab.services.analysis import sources
from ablab.services.analysis.results import experiment_results
from ablab.services.analysis.timeseries import experiment_timeseries
from ablab.services.assignment import assign as assignment
from ablab.services.automation.bandit import rebalance as rebalance_weights
from ablab.services.automation.guard import analyze_experiment
from ablab.services.experiments import catalogue, metrics
from ablab.services.experiments import lifecycle as experiments
from ablab.services.rollouts import promotion
from ablab.services.rollouts import steps as rollouts
from ablab.services.rollouts.traffic_warnings import action_warnings, experiment_warnings
from ablab.stats.priors import parse_prior

# Experiments


@operation("POST", "/v1/experiments")
def create_experiment(local: Local, spec: ExperimentCreate) -> ExperimentWithWarnings:
    created = experiments.create_experiment(local.ctx, spec.to_spec())
    return ExperimentWithWarnings.warned(created, experiment_warnings(local.ctx, created))


@operation("GET", "/v1/experiments")
def list_experiments(
    local: Local, status: ExperimentStatus | None = None
) -> list[ExperimentPublic]:
    found = experiments.list_experiments(local.ctx, status)
    return [ExperimentPublic.from_domain(e) for e in found]


@operation("GET", "/v1/experiments/{ref}")
def get_experiment(local: Local, ref: str) -> ExperimentPublic:
    return ExperimentPublic.from_domain(experiments.get_experiment(local.ctx, ref))


@operation("PATCH", "/v1/experiments/{ref}")
def update_experiment(local: Local, ref: str, spec: ExperimentUpdate) -> ExperimentPublic:
    changed = experiments.update_experiment(local.ctx, ref, spec.to_spec())
    return ExperimentPublic.from_domain(changed)


@operation("POST", "/v1/experiments/{ref}/variants")
def add_variant(local: Local, ref: str, spec: VariantCreate) -> ExperimentPublic:
    changed = experiments.add_variant(local.ctx, ref, spec.to_spec())
    return ExperimentPublic.from_domain(changed)


@operation("POST", "/v1/experiments/{ref}/{action}")
def transition(local: Local, ref: str, action: Action) -> ExperimentWithWarnings:
    """Launch, pause, resume, stop or archive (a promotion is :func:`promote`)."""
    changed = experiments.transition(local.ctx, ref, action)
    return ExperimentWithWarnings.warned(changed, action_warnings(local.ctx, changed, action))


@operation("POST", "/v1/experiments/{ref}/promote")
def promote(local: Local, ref: str, spec: PromoteRequest) -> ExperimentWithWarnings:
    changed = promotion.promote_experiment(
        local.ctx,
        local.events(),
        ref,
        variant=spec.variant,
        rollout=spec.settings(),
        force=spec.force,
    )
    return ExperimentWithWarnings.warned(
        changed, action_warnings(local.ctx, changed, Action.PROMOTE)
    )


@operation("GET", "/v1/experiments/{ref}/results")
def results(
    local: Local, ref: str, segment: str | None = None, prior: tuple[str, ...] = ()
) -> ExperimentResults:
    """The results; on the embedded store, with the automatic actions they call for.

    A server's background monitor takes those actions, so its route only reads. Here
    nothing runs in the background, so analysing takes them, as ``ablab experiment
    results`` always has.
    """
    if prior:
        # The automatic actions follow the experiment's own settings (the default prior);
        # the prior asked for changes only how these results are read.
        chosen = parse_prior(prior)
        found = experiment_results(local.ctx, local.events(), ref, segment=segment, prior=chosen)
    else:
        found = analyze_experiment(local.ctx, local.events(), ref, local.alerts, segment=segment)
    return ExperimentResults.model_validate(found)


@operation("POST", "/v1/experiments/{ref}/rebalance")
def rebalance(local: Local, ref: str) -> ExperimentPublic:
    rebalance_weights(local.ctx, local.events(), ref, np.random.default_rng())
    return ExperimentPublic.from_domain(experiments.get_experiment(local.ctx, ref))


@operation("GET", "/v1/experiments/{ref}/timeseries")
def timeseries(
    local: Local, ref: str, metric: str | None = None, interval: str = "day"
) -> ExperimentTimeseries:
    found = experiment_timeseries(
        local.ctx, local.events(), ref, metric=metric, interval_name=interval
    )
    return ExperimentTimeseries.model_validate(found)


@operation("GET", "/v1/experiments/{ref}/assignments")
def assignment_counts(local: Local, ref: str) -> dict[str, int]:
    return assignment.assignment_counts(local.ctx, ref)


@operation("GET", "/v1/experiments/{ref}/audit")
def experiment_audit(local: Local, ref: str, limit: int = 100) -> list[AuditEntryPublic]:
    experiment = experiments.get_experiment(local.ctx, ref)
    entries = audit.list_audit(local.ctx, object_id=experiment.id, limit=limit)
    return [AuditEntryPublic.from_domain(e) for e in entries]


# Rollouts


@operation("GET", "/v1/rollouts")
def list_rollouts(local: Local, model: str | None = None) -> list[RolloutPublic]:
    return [RolloutPublic.from_domain(r) for r in rollouts.list_rollouts(local.ctx, model)]


@operation("GET", "/v1/rollouts/{rollout_id}")
def check_rollout(local: Local, rollout_id: str) -> RolloutCheckPublic:
    found = rollouts.check_rollout(local.ctx, local.events(), rollout_id)
    return RolloutCheckPublic.model_validate(found)


@operation("POST", "/v1/rollouts/{rollout_id}/{action}")
def act_on_rollout(
    local: Local, rollout_id: str, action: RolloutAction, reason: str = ""
) -> RolloutPublic:
    moved = rollouts.act_on_rollout(local.ctx, rollout_id, action, reason)
    return RolloutPublic.from_domain(moved)


# The catalogue: models, groups, metrics


@operation("POST", "/v1/models")
def register_model_version(local: Local, spec: ModelVersionCreate) -> ModelPublic:
    return ModelPublic.from_domain(*catalogue.register_model_version(local.ctx, spec.to_spec()))


@operation("GET", "/v1/models/{name}")
def get_model(local: Local, name: str) -> ModelPublic:
    return ModelPublic.from_domain(*catalogue.get_model(local.ctx, name))


@operation("GET", "/v1/models")
def list_models(local: Local) -> list[ModelPublic]:
    return [ModelPublic.from_domain(m, v) for m, v in catalogue.list_models(local.ctx)]


@operation("POST", "/v1/groups")
def create_group(local: Local, spec: GroupCreate) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.create_group(local.ctx, spec.to_spec()))


@operation("GET", "/v1/groups/{name}")
def get_group(local: Local, name: str) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.get_group(local.ctx, name))


@operation("GET", "/v1/groups")
def list_groups(local: Local) -> list[GroupPublic]:
    return [GroupPublic.from_domain(g) for g in catalogue.list_groups(local.ctx)]


@operation("POST", "/v1/metrics")
def define_metric(local: Local, spec: MetricCreate) -> MetricPublic:
    return MetricPublic.from_domain(metrics.define_metric(local.ctx, spec.to_spec()))


@operation("GET", "/v1/metrics")
def list_metrics(local: Local) -> list[MetricPublic]:
    return [MetricPublic.from_domain(m) for m in metrics.list_metrics(local.ctx)]


# Analysis sources


@operation("POST", "/v1/sources")
def add_source(local: Local, spec: SourceCreate) -> SourcePublic:
    source, sample = sources.add_source(
        local.ctx, spec.name, spec.engine, spec.to_domain_tables(), spec.refresh_minutes
    )
    return SourcePublic.from_domain(source, sample)


@operation("GET", "/v1/sources")
def list_sources(local: Local) -> list[SourcePublic]:
    return [SourcePublic.from_domain(s) for s in sources.list_sources(local.ctx)]


@operation("GET", "/v1/sources/{name}")
def get_source(local: Local, name: str) -> SourcePublic:
    return SourcePublic.from_domain(sources.get_source(local.ctx, name))


@operation("POST", "/v1/sources/{name}/refresh")
def refresh_source(local: Local, name: str, spec: SourceRefresh) -> SourcePublic:
    return SourcePublic.from_domain(sources.refresh_source(local.ctx, name, full=spec.full))


@operation("POST", "/v1/sources/{name}/test")
def test_source(local: Local, name: str) -> SourcePublic:
    return SourcePublic.from_domain(*sources.check_source(local.ctx, name))


# Keys and the audit log


@operation("POST", "/v1/keys")
def create_key(local: Local, spec: KeyCreate) -> KeyCreated:
    key, whole = keys.create_key(local.ctx, spec.name, spec.scopes)
    return KeyCreated(**KeyPublic.from_domain(key).model_dump(), key=whole)


@operation("GET", "/v1/keys")
def list_keys(local: Local) -> list[KeyPublic]:
    return [KeyPublic.from_domain(k) for k in keys.list_keys(local.ctx)]


@operation("POST", "/v1/keys/{key_id}/revoke")
def revoke_key(local: Local, key_id: str) -> KeyPublic:
    return KeyPublic.from_domain(keys.revoke_key(local.ctx, key_id))


@operation("GET", "/v1/audit")
def list_audit(local: Local, limit: int = 100) -> list[AuditEntryPublic]:
    entries = audit.list_audit(local.ctx, limit=limit)
    return [AuditEntryPublic.from_domain(e) for e in entries]


# The data plane


@operation("POST", "/v1/assign")
def assign(
    local: Local, experiment: str, unit_id: str, attributes: dict[str, Any]
) -> AssignmentPublic:
    found = assignment.assign(local.ctx, experiment, unit_id, attributes)
    return AssignmentPublic.from_domain(found)


@operation("POST", "/v1/events")
def log_events(
    local: Local, events: list[Any], experiment: str | None = None
) -> IngestResultPublic:
    """Store ``events``; ``experiment`` fills in those that name none."""
    from ablab.services.events.ingest import ingest_events  # noqa: PLC0415 - its checks load pyarrow (+40 MB), which a remote client never needs

    result = ingest_events(local.ctx, local.events(), events, default_experiment=experiment)
    return IngestResultPublic(
        received=result.received,
        accepted=result.accepted,
        stored=result.stored,
        duplicates=result.duplicates,
        rejected=[RejectedEvent.model_validate(e) for e in result.rejected],
    )
