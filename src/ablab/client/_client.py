"""``Client``: the Python SDK, over the embedded store (default) or an ablab server."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ablab.client import _api as api
from ablab.client._backend import Backend
from ablab.client._experiments import Experiments
from ablab.client._llm import Llm
from ablab.client._resources import Events, Groups, Keys, Metrics, Models, Rollouts, Sources
from ablab.contract.base import parse
from ablab.contract.catalogue import AssignmentPublic, AssignRequest, AuditEntryPublic
from ablab.settings import Settings

if TYPE_CHECKING:
    import httpx

    from ablab.client._ruleset import LocalAssigner
    from ablab.gateway.local_router import LocalRouter
    from ablab.services.events.buffer import EventBuffer

__all__ = ["Client"]


class Client:
    """Manage experiments and assign units from Python.

    ``Client()`` works on the embedded store in ``$ABLAB_HOME`` (default ``./.ablab``), as
    MLflow does with its local store. ``Client(base_url=..., api_key=...)`` talks to an ablab
    server instead, with the same methods. Against a server, ``assign`` is computed here
    from the server's ruleset (refreshed in the background, kept when the server is down)
    and logs the exposure; ``track`` queues events and sends them in the background.

    Examples:
        >>> import tempfile
        >>> with Client(home=tempfile.mkdtemp()) as client:
        ...     _ = client.models.register("radiology-v1", "1.0.0", endpoint="http://m/v1")
        ...     _ = client.models.register("radiology-v1", "2.0.0", endpoint="http://m/v2")
        ...     experiment = client.experiments.create(
        ...         "my-experiment", model_id="radiology-v1",
        ...         control_version="1.0.0", treatment_version="2.0.0", traffic_split=50)
        ...     experiment.status.value
        'running'
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        home: str | Path | None = None,
        project: str | None = None,
        backend: Backend | None = None,
        transport: httpx.BaseTransport | None = None,
        ruleset_refresh: float = 30.0,
    ) -> None:
        overrides: dict[str, Any] = {}
        if base_url is not None:
            overrides["url"] = base_url
        if api_key is not None:
            overrides["api_key"] = api_key
        if home is not None:
            overrides["home"] = Path(home)
        if project is not None:
            overrides["project"] = project
        self.settings = Settings(**overrides)
        self._assigner: LocalAssigner | None = None
        self._tracker: EventBuffer | None = None
        if backend is not None:
            self._backend = backend
        elif self.settings.url is not None:
            self._backend = self._connect(self.settings, transport, ruleset_refresh)
        else:
            from ablab.client._local import LocalBackend  # noqa: PLC0415 - a remote client never loads SQLAlchemy, a local one never httpx

            self._backend = LocalBackend(self.settings)
        self.experiments = Experiments(self._backend)
        self.rollouts = Rollouts(self._backend)
        self.models = Models(self._backend)
        self.groups = Groups(self._backend)
        self.metrics = Metrics(self._backend)
        self.sources = Sources(self._backend)
        self.keys = Keys(self._backend)
        self.events = Events(self._backend)
        self.llm = Llm(self._backend)

    def _connect(
        self, settings: Settings, transport: httpx.BaseTransport | None, refresh: float
    ) -> Backend:
        from ablab.client._http import HttpBackend  # noqa: PLC0415 - a remote client never loads SQLAlchemy, a local one never httpx
        from ablab.client._ruleset import LocalAssigner  # noqa: PLC0415 - a remote client never loads SQLAlchemy, a local one never httpx
        from ablab.services.events.buffer import EventBuffer  # noqa: PLC0415 - a remote client never loads SQLAlchemy, a local one never httpx

        assert settings.url is not None
        key = settings.api_key.get_secret_value() if settings.api_key else None
        remote = HttpBackend(settings.url, key, transport=transport)
        self._assigner = LocalAssigner(
            remote.sdk_config,
            lambda experiment, unit_id, attributes: remote.call(
                api.assign, experiment, unit_id, attributes
            ),
            refresh=refresh,
        )
        self._tracker = EventBuffer(lambda batch: remote.call(api.log_events, list(batch)))
        return remote

    @property
    def remote(self) -> bool:
        """Whether this client talks to a server."""
        return self._assigner is not None

    def assign(
        self,
        experiment: str,
        unit_id: str,
        attributes: dict[str, Any] | None = None,
        *,
        log_exposure: bool = True,
    ) -> AssignmentPublic:
        """The variant (and model version) to serve ``unit_id``; sticky.

        On the embedded store the first assignment is stored. Against a server it is
        computed locally when the ruleset allows (else asked of the server), and with
        ``log_exposure`` an exposure event is queued for units in the experiment.
        """
        request = parse(
            AssignRequest,
            {"experiment": experiment, "unit_id": unit_id, "attributes": attributes or {}},
        )
        if self._assigner is None:
            return self._backend.call(
                api.assign, request.experiment, request.unit_id, request.attributes
            )
        found = self._assigner.assign(request.experiment, request.unit_id, request.attributes)
        if log_exposure and found.in_experiment and self._tracker is not None:
            self._tracker.track(
                {
                    "event_id": uuid.uuid4().hex,
                    "type": "exposure",
                    "experiment": request.experiment,
                    "unit_id": request.unit_id,
                    "variant": found.variant,
                    "attributes": request.attributes or None,
                    "timestamp": datetime.now(UTC).isoformat(),
                }
            )
        return found

    def router(
        self,
        experiment: str,
        models: Mapping[str, Any],
        *,
        timeout: float = 2.0,
        shadow_sample: float = 1.0,
    ) -> LocalRouter:
        """Route predictions to in-process models by variant (``{model_version: model}``).

        ``router.predict(unit_id, features)`` assigns the unit, calls its variant's model
        (a callable, or an estimator with ``predict``), falls back to the control's model
        when it fails or its circuit is open, mirrors to shadows in shadow mode, and logs
        the exposure and the prediction.
        """
        from ablab.client._trust import local_trust  # noqa: PLC0415 - a remote client never loads SQLAlchemy, a local one never httpx
        from ablab.gateway.local_router import LocalRouter  # noqa: PLC0415 - a remote client never loads SQLAlchemy, a local one never httpx

        return LocalRouter(
            self,
            lambda: self.experiments.get(experiment),
            models,
            timeout=timeout,
            shadow_sample=shadow_sample,
            artifacts=local_trust(self.settings).artifacts,
        )

    def track(self, event: Mapping[str, Any]) -> bool:
        """Log one event (the wire format of DESIGN.md) without waiting for it.

        Against a server it is queued and sent in the background (False if the queue is
        full); on the embedded store it is stored at once. Never raises for a bad event:
        use ``client.events.log`` to see each event's verdict.
        """
        if self._tracker is not None:
            return self._tracker.track(event)
        try:
            return not self._backend.call(api.log_events, [dict(event)]).rejected
        except Exception:  # tracking must never break the caller's request path
            return False

    def flush(self) -> None:
        """Send the queued events now (a no-op on the embedded store)."""
        if self._tracker is not None:
            self._tracker.flush()

    def audit(self, limit: int = 100) -> list[AuditEntryPublic]:
        """The project's audit log, newest first."""
        return self._backend.call(api.list_audit, limit)

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
        if self._assigner is not None:
            self._assigner.close()
        self._backend.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
