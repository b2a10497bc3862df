"""``Client``: the Python SDK, over the embedded store (default) or an ablab server."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from ablab.client._backend import Backend
from ablab.client._resources import Events, Experiments, Groups, Metrics, Models
from ablab.contract.base import parse
from ablab.contract.catalogue import AssignmentPublic, AssignRequest, AuditEntryPublic
from ablab.errors import ValidationError
from ablab.settings import Settings

__all__ = ["Client"]


class Client:
    """Manage experiments and assign units from Python.

    ``Client()`` works on the embedded store in ``$ABLAB_HOME`` (default ``./.ablab``), as
    MLflow does with its local store. ``Client(base_url=..., api_key=...)`` talks to an ablab
    server instead, with the same methods.

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
        self._backend = backend if backend is not None else _open_backend(self.settings)
        self.experiments = Experiments(self._backend)
        self.models = Models(self._backend)
        self.groups = Groups(self._backend)
        self.metrics = Metrics(self._backend)
        self.events = Events(self._backend)

    def assign(
        self, experiment: str, unit_id: str, attributes: dict[str, Any] | None = None
    ) -> AssignmentPublic:
        """The variant (and model version) to serve ``unit_id``, stored on first assignment."""
        request = parse(
            AssignRequest,
            {"experiment": experiment, "unit_id": unit_id, "attributes": attributes or {}},
        )
        return self._backend.assign(request.experiment, request.unit_id, request.attributes)

    def audit(self, limit: int = 100) -> list[AuditEntryPublic]:
        """The project's audit log, newest first."""
        return self._backend.list_audit(None, limit)

    def close(self) -> None:
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


def _open_backend(settings: Settings) -> Backend:
    if settings.url is not None:
        raise ValidationError(
            f"cannot reach {settings.url}: this version of ablab has no server mode yet; "
            "unset ABLAB_URL to use the embedded store"
        )
    from ablab.client._local import LocalBackend

    return LocalBackend(settings)
