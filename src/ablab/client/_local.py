"""The embedded backend: the Client calls the service layer on stores under ``$ABLAB_HOME``."""

from __future__ import annotations

import getpass
from typing import Any

import numpy as np

from ablab.client._llm import LlmBackend
from ablab.client._trust import local_trust
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
    VariantCreate,
)
from ablab.contract.keys import KeyCreate, KeyCreated, KeyPublic
from ablab.contract.metrics import MetricCreate, MetricPublic
from ablab.contract.results import ExperimentResults
from ablab.contract.rollouts import PromoteRequest, RolloutCheckPublic, RolloutPublic
from ablab.contract.timeseries import ExperimentTimeseries
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.domain.rollouts import RolloutAction
from ablab.notify import WebhookAlerts
from ablab.services.access import audit, keys
from ablab.services.access.projects import ensure_project
from ablab.services.analysis.results import experiment_results
from ablab.services.analysis.timeseries import experiment_timeseries
from ablab.services.assignment import assign as assignment
from ablab.services.automation.bandit import rebalance
from ablab.services.automation.guard import analyze_experiment
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments import catalogue, metrics
from ablab.services.experiments import lifecycle as experiments
from ablab.services.ports import EventStore
from ablab.services.rollouts import promotion
from ablab.services.rollouts import steps as rollouts
from ablab.settings import Settings
from ablab.stats.priors import parse_prior
from ablab.store.open import open_events, open_metadata

__all__ = ["LocalBackend"]


class LocalBackend:
    """Opens (creating on first use) the metadata store and the project named in settings."""

    def __init__(self, settings: Settings) -> None:
        self._store = open_metadata(settings)
        project = ensure_project(self._store, settings.project)
        self._settings = settings
        self._alerts = WebhookAlerts(settings.alert_webhook) if settings.alert_webhook else None
        self._events: EventStore | None = None
        self._ctx = Context(
            self._store, project.id, actor=f"local:{_user()}", trust=local_trust(settings)
        )

    def llm(self) -> LlmBackend:
        from ablab.client._llm_local import LocalLlm  # noqa: PLC0415 - the LLM runners load only when used

        return LocalLlm(self._ctx)

    def create_experiment(self, spec: ExperimentCreate) -> ExperimentPublic:
        return ExperimentPublic.from_domain(experiments.create_experiment(self._ctx, spec))

    def get_experiment(self, ref: str) -> ExperimentPublic:
        return ExperimentPublic.from_domain(experiments.get_experiment(self._ctx, ref))

    def list_experiments(self, status: ExperimentStatus | None) -> list[ExperimentPublic]:
        found = experiments.list_experiments(self._ctx, status)
        return [ExperimentPublic.from_domain(e) for e in found]

    def update_experiment(self, ref: str, spec: ExperimentUpdate) -> ExperimentPublic:
        return ExperimentPublic.from_domain(experiments.update_experiment(self._ctx, ref, spec))

    def add_variant(self, ref: str, spec: VariantCreate) -> ExperimentPublic:
        return ExperimentPublic.from_domain(experiments.add_variant(self._ctx, ref, spec))

    def transition(self, ref: str, action: Action, variant: str | None) -> ExperimentPublic:
        changed = experiments.transition(self._ctx, ref, action, variant=variant)
        return ExperimentPublic.from_domain(changed)

    def promote(self, ref: str, request: PromoteRequest) -> ExperimentPublic:
        changed = promotion.promote_experiment(
            self._ctx,
            self._event_store(),
            ref,
            variant=request.variant,
            rollout=request.settings(),
            force=request.force,
        )
        return ExperimentPublic.from_domain(changed)

    def list_rollouts(self, model: str | None) -> list[RolloutPublic]:
        return [RolloutPublic.from_domain(r) for r in rollouts.list_rollouts(self._ctx, model)]

    def check_rollout(self, rollout_id: str) -> RolloutCheckPublic:
        return rollouts.check_rollout(self._ctx, self._event_store(), rollout_id)

    def act_on_rollout(self, rollout_id: str, action: RolloutAction, reason: str) -> RolloutPublic:
        moved = rollouts.act_on_rollout(self._ctx, rollout_id, action, reason)
        return RolloutPublic.from_domain(moved)

    def register_model_version(self, spec: ModelVersionCreate) -> ModelPublic:
        return ModelPublic.from_domain(*catalogue.register_model_version(self._ctx, spec))

    def get_model(self, name: str) -> ModelPublic:
        return ModelPublic.from_domain(*catalogue.get_model(self._ctx, name))

    def list_models(self) -> list[ModelPublic]:
        return [ModelPublic.from_domain(m, v) for m, v in catalogue.list_models(self._ctx)]

    def create_group(self, spec: GroupCreate) -> GroupPublic:
        return GroupPublic.from_domain(catalogue.create_group(self._ctx, spec))

    def get_group(self, name: str) -> GroupPublic:
        return GroupPublic.from_domain(catalogue.get_group(self._ctx, name))

    def list_groups(self) -> list[GroupPublic]:
        return [GroupPublic.from_domain(g) for g in catalogue.list_groups(self._ctx)]

    def assign(self, experiment: str, unit_id: str, attributes: dict[str, Any]) -> AssignmentPublic:
        result = assignment.assign(self._ctx, experiment, unit_id, attributes)
        return AssignmentPublic.from_domain(result)

    def assignment_counts(self, experiment: str) -> dict[str, int]:
        return assignment.assignment_counts(self._ctx, experiment)

    def list_audit(self, object_id: str | None, limit: int) -> list[AuditEntryPublic]:
        entries = audit.list_audit(self._ctx, object_id=object_id, limit=limit)
        return [AuditEntryPublic.from_domain(e) for e in entries]

    def ingest_events(
        self, events: list[Any], default_experiment: str | None
    ) -> IngestResultPublic:
        result = ingest_events(
            self._ctx, self._event_store(), events, default_experiment=default_experiment
        )
        return IngestResultPublic(
            received=result.received,
            accepted=result.accepted,
            stored=result.stored,
            duplicates=result.duplicates,
            rejected=[RejectedEvent.model_validate(e) for e in result.rejected],
        )

    def define_metric(self, spec: MetricCreate) -> MetricPublic:
        return MetricPublic.from_domain(metrics.define_metric(self._ctx, spec))

    def list_metrics(self) -> list[MetricPublic]:
        return [MetricPublic.from_domain(m) for m in metrics.list_metrics(self._ctx)]

    def create_key(self, spec: KeyCreate) -> KeyCreated:
        key, whole = keys.create_key(self._ctx, spec.name, spec.scopes)
        return KeyCreated(**KeyPublic.from_domain(key).model_dump(), key=whole)

    def list_keys(self) -> list[KeyPublic]:
        return [KeyPublic.from_domain(k) for k in keys.list_keys(self._ctx)]

    def revoke_key(self, key_id: str) -> KeyPublic:
        return KeyPublic.from_domain(keys.revoke_key(self._ctx, key_id))

    def rebalance(self, ref: str) -> ExperimentPublic:
        rebalance(self._ctx, self._event_store(), ref, np.random.default_rng())
        return self.get_experiment(ref)

    def results(
        self, ref: str, segment: str | None, prior: tuple[str, ...] = ()
    ) -> ExperimentResults:
        found = analyze_experiment(
            self._ctx, self._event_store(), ref, self._alerts, segment=segment
        )
        if not prior:
            return found
        # The automatic actions follow the experiment's own settings (the default prior);
        # the prior asked for changes only how these results are read.
        return experiment_results(
            self._ctx, self._event_store(), ref, segment=segment, prior=parse_prior(prior)
        )

    def timeseries(self, ref: str, metric: str | None, interval: str) -> ExperimentTimeseries:
        return experiment_timeseries(
            self._ctx, self._event_store(), ref, metric=metric, interval_name=interval
        )

    def _event_store(self) -> EventStore:
        # Opened on first use: most commands never touch events, and DuckDB locks its file.
        if self._events is None:
            self._events = open_events(self._settings)
        return self._events

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
        self._store.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"
