"""The Client's resources beside experiments: ``client.rollouts``, ``client.models``,
``client.groups``, ``client.metrics``, ``client.keys``, ``client.events``."""

from __future__ import annotations

import builtins
from typing import Any

from ablab.client import _api as api
from ablab.client._backend import Backend
from ablab.client._options import given
from ablab.contract.base import parse
from ablab.contract.catalogue import (
    GroupCreate,
    GroupPublic,
    ModelPublic,
    ModelVersionCreate,
)
from ablab.contract.events import IngestResultPublic
from ablab.contract.fields import ConfigObject, Flag, Identifier, Label, Text
from ablab.contract.keys import KeyCreate, KeyCreated, KeyPublic
from ablab.contract.metrics import MetricCreate, MetricPublic
from ablab.contract.rollouts import RolloutCheckPublic, RolloutPublic
from ablab.contract.sources import SourceCreate, SourcePublic, SourceRefresh
from ablab.domain.metrics import Aggregation, MetricKind
from ablab.domain.rollouts import RolloutAction

__all__ = ["Events", "Groups", "Keys", "Metrics", "Models", "Rollouts"]


class Rollouts:
    """Promoted versions rolled out step by step: read them, and move them by hand.

    The background monitor (``ablab server``) advances a running rollout when a step has
    lasted its time with enough units and no broken guardrail, and rolls it back on harm.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def list(self, model: str | None = None) -> builtins.list[RolloutPublic]:
        """Newest first; of one model with ``model``."""
        return self._backend.call(api.list_rollouts, model)

    def get(self, rollout_id: str) -> RolloutCheckPublic:
        """The rollout and its current step's evidence: units, guardrails, what comes next."""
        return self._backend.call(api.check_rollout, rollout_id)

    def advance(self, rollout_id: str, reason: str = "") -> RolloutPublic:
        """Go to the next step now; onto the 100% step completes the rollout."""
        return self._backend.call(api.act_on_rollout, rollout_id, RolloutAction.ADVANCE, reason)

    def pause(self, rollout_id: str, reason: str = "") -> RolloutPublic:
        """Hold the current share; the monitor leaves a paused rollout alone."""
        return self._backend.call(api.act_on_rollout, rollout_id, RolloutAction.PAUSE, reason)

    def resume(self, rollout_id: str, reason: str = "") -> RolloutPublic:
        return self._backend.call(api.act_on_rollout, rollout_id, RolloutAction.RESUME, reason)

    def rollback(self, rollout_id: str, reason: str = "") -> RolloutPublic:
        """Serve everyone the previous version again."""
        return self._backend.call(api.act_on_rollout, rollout_id, RolloutAction.ROLLBACK, reason)


class Models:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def register(
        self,
        name: str,
        version: str,
        *,
        endpoint: str | None = None,
        artifact: str | None = None,
        description: str = "",
    ) -> ModelPublic:
        """Register a version served at ``endpoint`` (URL) or from ``artifact`` (file path or
        ``module:attr``); the model is created with its first version."""
        spec = parse(
            ModelVersionCreate,
            {
                "model_id": name,
                "version": version,
                "endpoint": endpoint,
                "artifact": artifact,
                "description": description,
            },
        )
        return self._backend.call(api.register_model_version, spec)

    def get(self, name: str) -> ModelPublic:
        return self._backend.call(api.get_model, name)

    def list(self) -> list[ModelPublic]:
        return self._backend.call(api.list_models)


class Groups:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def create(
        self,
        name: Label,
        *,
        rule: ConfigObject | None = None,
        members: builtins.list[Identifier] | None = None,
        description: Text = "",
    ) -> GroupPublic:
        """A group of units matching ``rule`` (Mongo-style operators) or listed in ``members``;
        the options are ``GroupCreate``'s fields."""
        spec = parse(GroupCreate, given(locals()))
        return self._backend.call(api.create_group, spec)

    def get(self, name: str) -> GroupPublic:
        return self._backend.call(api.get_group, name)

    def list(self) -> builtins.list[GroupPublic]:
        return self._backend.call(api.list_groups)


class Metrics:
    """Custom metrics, computed from ``metric`` events of the same name."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def create(
        self,
        name: Identifier,
        *,
        aggregation: Aggregation | str = "sum",
        kind: MetricKind | str = "continuous",
        higher_is_better: Flag = True,
        description: Text = "",
    ) -> MetricPublic:
        """Define ``name``: ``aggregation`` per unit (sum, mean, count, any) and ``kind``
        (proportion: units above 0; continuous: the mean); ``MetricCreate``'s fields."""
        spec = parse(MetricCreate, given(locals()))
        return self._backend.call(api.define_metric, spec)

    def list(self) -> list[MetricPublic]:
        return self._backend.call(api.list_metrics)


class Sources:
    """Analysis sources: the team's own tables an experiment's events are read from."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def add(
        self,
        name: Identifier,
        *,
        engine: str = "duckdb",
        tables: dict[str, Any],
        refresh_minutes: int | None = None,
    ) -> SourcePublic:
        """Add ``name`` on ``engine`` (duckdb, spark, clickhouse); ``tables`` maps each event
        type to where it lives and its columns (``SourceCreate``'s fields). The engine reads
        a sample of each first; what it cannot read raises ``ValidationError``.
        ``refresh_minutes`` keeps each answer that long (a warehouse bills each scan)."""
        spec = parse(
            SourceCreate,
            {"name": name, "engine": engine, "tables": tables, "refresh_minutes": refresh_minutes},
        )
        return self._backend.call(api.add_source, spec)

    def get(self, name: str) -> SourcePublic:
        return self._backend.call(api.get_source, name)

    def list(self) -> builtins.list[SourcePublic]:
        return self._backend.call(api.list_sources)

    def refresh(self, name: str, *, full: bool = False) -> SourcePublic:
        """Forget the answers kept from the source: the next reads ask its engine for the
        days that may have changed; ``full``, for every day."""
        return self._backend.call(api.refresh_source, name, SourceRefresh(full=full))

    def test(self, name: str) -> SourcePublic:
        """Read a sample of each of the source's tables again (``sample_rows``)."""
        return self._backend.call(api.test_source, name)


class Keys:
    """API keys of the project (on a server: an admin key is needed)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def create(self, name: str, *, scopes: builtins.list[str]) -> KeyCreated:
        """A new key; ``.key`` holds the whole key, shown this once."""
        return self._backend.call(
            api.create_key, parse(KeyCreate, {"name": name, "scopes": scopes})
        )

    def list(self) -> builtins.list[KeyPublic]:
        return self._backend.call(api.list_keys)

    def revoke(self, key_id: str) -> KeyPublic:
        return self._backend.call(api.revoke_key, key_id)


class Events:
    """Log exposures, predictions, labels and metrics (the wire format of DESIGN.md)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def log(
        self, events: builtins.list[Any], *, experiment: str | None = None
    ) -> IngestResultPublic:
        """Store ``events`` now (durable on return); bad ones come back in ``rejected``.

        ``experiment`` fills in events that name none. Retrying the same events is safe:
        each ``event_id`` is stored once.
        """
        return self._backend.call(api.log_events, list(events), experiment)
