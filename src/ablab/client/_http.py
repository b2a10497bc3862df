"""The remote backend: the Backend protocol over the REST API, with httpx.

Each call maps to one route of DESIGN.md; an error response becomes the same exception
class the server raised (by its ``code``), and a server that does not answer becomes
``Unavailable``. The transport can be injected, so tests can route requests anywhere.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from ablab.client._llm import HttpLlm, LlmBackend
from ablab.contract.catalogue import (
    AssignmentPublic,
    AuditEntryPublic,
    GroupCreate,
    GroupPublic,
    ModelPublic,
    ModelVersionCreate,
)
from ablab.contract.events import IngestResultPublic
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
from ablab.errors import Unauthorized, Unavailable, error_class_for

__all__ = ["HttpBackend", "raise_for_error"]

T = TypeVar("T", bound=BaseModel)


def raise_for_error(response: httpx.Response) -> None:
    """Raise the ablab error an error response carries."""
    if response.is_success:
        return
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "error", f"HTTP {response.status_code}: {response.text[:200]}", {}
    if response.status_code >= 500:
        # The server's failure, not the request's: worth retrying later.
        raise Unavailable(message, details={**details, "status": response.status_code})
    raise error_class_for(code)(message, details=details)


class HttpBackend:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise Unauthorized(
                f"an API key is needed for {base_url}: pass api_key= or set ABLAB_API_KEY"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "ablab-python"},
            timeout=timeout,
            transport=transport,
        )

    def llm(self) -> LlmBackend:
        return HttpLlm(self)

    # Plumbing

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TransportError as exc:
            raise Unavailable(
                f"the ablab server at {self.base_url} does not answer ({type(exc).__name__})"
            ) from None
        raise_for_error(response)
        return response

    def _one(self, model: type[T], method: str, path: str, **options: Any) -> T:
        return model.model_validate(self.request(method, path, **options).json())

    def _many(self, model: type[T], method: str, path: str, **options: Any) -> list[T]:
        adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
        found: list[T] = adapter.validate_python(self.request(method, path, **options).json())
        return found

    @staticmethod
    def _body(spec: BaseModel) -> dict[str, Any]:
        return spec.model_dump(mode="json", exclude_unset=True)

    # Experiments

    def create_experiment(self, spec: ExperimentCreate) -> ExperimentPublic:
        return self._one(ExperimentPublic, "POST", "/v1/experiments", json=self._body(spec))

    def get_experiment(self, ref: str) -> ExperimentPublic:
        return self._one(ExperimentPublic, "GET", f"/v1/experiments/{ref}")

    def list_experiments(self, status: ExperimentStatus | None) -> list[ExperimentPublic]:
        params = {"status": status.value} if status is not None else {}
        return self._many(ExperimentPublic, "GET", "/v1/experiments", params=params)

    def update_experiment(self, ref: str, spec: ExperimentUpdate) -> ExperimentPublic:
        return self._one(ExperimentPublic, "PATCH", f"/v1/experiments/{ref}", json=self._body(spec))

    def add_variant(self, ref: str, spec: VariantCreate) -> ExperimentPublic:
        path = f"/v1/experiments/{ref}/variants"
        return self._one(ExperimentPublic, "POST", path, json=self._body(spec))

    def transition(self, ref: str, action: Action, variant: str | None) -> ExperimentPublic:
        path = f"/v1/experiments/{ref}/{action.value}"
        body = {"variant": variant} if action is Action.PROMOTE and variant is not None else None
        return self._one(ExperimentPublic, "POST", path, json=body)

    def promote(self, ref: str, request: PromoteRequest) -> ExperimentPublic:
        path = f"/v1/experiments/{ref}/promote"
        return self._one(ExperimentPublic, "POST", path, json=self._body(request))

    def list_rollouts(self, model: str | None) -> list[RolloutPublic]:
        params = {"model": model} if model is not None else {}
        return self._many(RolloutPublic, "GET", "/v1/rollouts", params=params)

    def check_rollout(self, rollout_id: str) -> RolloutCheckPublic:
        return self._one(RolloutCheckPublic, "GET", f"/v1/rollouts/{rollout_id}")

    def act_on_rollout(self, rollout_id: str, action: RolloutAction, reason: str) -> RolloutPublic:
        path = f"/v1/rollouts/{rollout_id}/{action.value}"
        return self._one(RolloutPublic, "POST", path, json={"reason": reason})

    def results(
        self, ref: str, segment: str | None, prior: tuple[str, ...] = ()
    ) -> ExperimentResults:
        params: dict[str, str | list[str]] = {"segment": segment} if segment is not None else {}
        if prior:
            params["prior"] = list(prior)
        return self._one(ExperimentResults, "GET", f"/v1/experiments/{ref}/results", params=params)

    def rebalance(self, ref: str) -> ExperimentPublic:
        return self._one(ExperimentPublic, "POST", f"/v1/experiments/{ref}/rebalance")

    def timeseries(self, ref: str, metric: str | None, interval: str) -> ExperimentTimeseries:
        params = {"interval": interval, **({"metric": metric} if metric else {})}
        return self._one(
            ExperimentTimeseries, "GET", f"/v1/experiments/{ref}/timeseries", params=params
        )

    def assignment_counts(self, experiment: str) -> dict[str, int]:
        counts: dict[str, int] = self.request(
            "GET", f"/v1/experiments/{experiment}/assignments"
        ).json()
        return counts

    def list_audit(self, object_id: str | None, limit: int) -> list[AuditEntryPublic]:
        if object_id is not None:
            path = f"/v1/experiments/{object_id}/audit"
            return self._many(AuditEntryPublic, "GET", path, params={"limit": limit})
        return self._many(AuditEntryPublic, "GET", "/v1/audit", params={"limit": limit})

    # Catalogue

    def register_model_version(self, spec: ModelVersionCreate) -> ModelPublic:
        return self._one(ModelPublic, "POST", "/v1/models", json=self._body(spec))

    def get_model(self, name: str) -> ModelPublic:
        return self._one(ModelPublic, "GET", f"/v1/models/{name}")

    def list_models(self) -> list[ModelPublic]:
        return self._many(ModelPublic, "GET", "/v1/models")

    def create_group(self, spec: GroupCreate) -> GroupPublic:
        return self._one(GroupPublic, "POST", "/v1/groups", json=self._body(spec))

    def get_group(self, name: str) -> GroupPublic:
        return self._one(GroupPublic, "GET", f"/v1/groups/{name}")

    def list_groups(self) -> list[GroupPublic]:
        return self._many(GroupPublic, "GET", "/v1/groups")

    def define_metric(self, spec: MetricCreate) -> MetricPublic:
        return self._one(MetricPublic, "POST", "/v1/metrics", json=self._body(spec))

    def list_metrics(self) -> list[MetricPublic]:
        return self._many(MetricPublic, "GET", "/v1/metrics")

    # Keys

    def create_key(self, spec: KeyCreate) -> KeyCreated:
        return self._one(KeyCreated, "POST", "/v1/keys", json=spec.model_dump(mode="json"))

    def list_keys(self) -> list[KeyPublic]:
        return self._many(KeyPublic, "GET", "/v1/keys")

    def revoke_key(self, key_id: str) -> KeyPublic:
        return self._one(KeyPublic, "POST", f"/v1/keys/{key_id}/revoke")

    # Data plane

    def assign(self, experiment: str, unit_id: str, attributes: dict[str, Any]) -> AssignmentPublic:
        body = {"experiment": experiment, "unit_id": unit_id, "attributes": attributes}
        return self._one(AssignmentPublic, "POST", "/v1/assign", json=body)

    def ingest_events(
        self, events: list[Any], default_experiment: str | None
    ) -> IngestResultPublic:
        body: dict[str, Any] = {"events": events}
        if default_experiment is not None:
            body["experiment"] = default_experiment
        return self._one(IngestResultPublic, "POST", "/v1/events", json=body)

    def sdk_config(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """The ruleset and its ETag; (None, etag) when unchanged since ``etag``."""
        headers = {"If-None-Match": etag} if etag else {}
        try:
            response = self._http.get("/v1/sdk/config", headers=headers)
        except httpx.TransportError as exc:
            raise Unavailable(f"the ablab server at {self.base_url} does not answer") from exc
        if response.status_code == 304:
            return None, etag
        raise_for_error(response)
        config: dict[str, Any] = response.json()
        return config, response.headers.get("ETag")

    def close(self) -> None:
        self._http.close()
