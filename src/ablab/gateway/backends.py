"""Model backends: an HTTP endpoint, or a model loaded in this process.

Every backend answers ``await backend.predict(features)`` with the model's prediction or
raises :class:`BackendError`. HTTP backends share one aiohttp session (one connection
pool for every model server): measured here, a FastAPI proxy on aiohttp's client served
about 4,900 requests/s where httpx's AsyncClient managed 750 to 1,400 (docs/performance.md).

Both obey the operator's :class:`~ablab.domain.trust.Trust`: an endpoint reaches only
addresses the outbound policy allows (checked on the resolved addresses, see
:mod:`ablab.gateway.outbound`), and an artifact loads only where the artifact policy
allows (see :mod:`ablab.gateway.artifacts`). A refusal is a :class:`BackendError` like
any other failure, so the gateway falls back to the control.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import orjson

from ablab.domain.models import BackendKind, ModelVersion
from ablab.domain.trust import ArtifactPolicy, OutboundPolicy
from ablab.errors import AblabError, ValidationError
from ablab.gateway.artifacts import load_artifact
from ablab.gateway.outbound import AddressRefused, GuardedResolver
from ablab.services.access.outbound import url_refusal

__all__ = [
    "ArtifactModel",
    "Backend",
    "BackendError",
    "HttpModel",
    "PythonModel",
    "SessionPool",
    "backend_for",
    "load_artifact",
]

DEFAULT_TIMEOUT = 2.0
# A model whose artifact failed to load (refused, missing, a registry down) answers with
# that failure, and its load is tried again after this many seconds.
RELOAD_AFTER = 30.0


class BackendError(Exception):
    """A model did not answer usefully: an error status, a timeout, a refused connection."""


class Backend(Protocol):
    name: str
    timeout: float

    async def predict(self, features: Any) -> Any: ...


class SessionPool:
    """One aiohttp session for all HTTP backends, made in the running event loop; its
    connections go only where ``outbound`` allows."""

    def __init__(self, *, connections: int = 256, outbound: OutboundPolicy | None = None) -> None:
        self._connections = connections
        self.outbound = outbound or OutboundPolicy()
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._connections,
                ttl_dns_cache=300,
                resolver=None if self.outbound.anywhere else GuardedResolver(self.outbound),
            )
            self._session = aiohttp.ClientSession(connector=connector, json_serialize=_json_text)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def _json_text(value: Any) -> str:
    """The body of a model call. orjson, not the json module aiohttp uses by default: the
    call is serialised on the event loop (1.2% of its samples under bench/gateway.py went
    to ``json.dumps``). It writes what the json module wrote of the server's features (they
    were parsed by orjson) and of an SDK caller's (numpy arrays too, and keys that are not
    strings); a NaN becomes null instead of a literal JSON does not allow."""
    return orjson.dumps(value, option=_JSON_OPTIONS).decode()


_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class HttpModel:
    """``POST url`` with ``{"features": ...}``; the answer is ``{"prediction": ...}`` or any
    JSON value, taken whole. Redirects are not followed: they could lead anywhere."""

    def __init__(
        self, name: str, url: str, pool: SessionPool, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.name, self.url, self.timeout = name, url, timeout
        self._pool = pool
        # aiohttp connects to a literal address without asking the (guarded) resolver.
        self._refusal = url_refusal(pool.outbound, url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)  # one for every call

    async def predict(self, features: Any) -> Any:
        if self._refusal is not None:
            raise BackendError(f"{self.name} refused: {self._refusal}")
        try:
            async with self._pool.session().post(
                self.url,
                json={"features": features},
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                if response.status >= 300:
                    raise BackendError(f"{self.name} answered HTTP {response.status}")
                body = await response.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):
                raise BackendError(f"{self.name} refused: {exc.os_error}") from None
            raise BackendError(f"{self.name} failed: {type(exc).__name__}") from None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BackendError(f"{self.name} failed: {type(exc).__name__}") from None
        if isinstance(body, dict) and "prediction" in body:
            return body["prediction"]
        return body


class PythonModel:
    """A model in this process: a callable of the features, or an estimator with ``predict``
    (given one row: ``predict([features])[0]``). It runs in a worker thread, so a slow
    model never blocks the event loop; its timeout is enforced on the wait."""

    def __init__(self, name: str, model: Any, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.name, self.timeout = name, timeout
        self._call = _as_callable(model)

    def predict_now(self, features: Any) -> Any:
        """The prediction, in the caller's thread (the in-process router uses this)."""
        try:
            return _plain(self._call(features))
        except AblabError:
            raise
        except Exception as exc:
            raise BackendError(f"{self.name} failed: {type(exc).__name__}: {exc}") from None

    async def predict(self, features: Any) -> Any:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self.predict_now, features), self.timeout
            )
        except TimeoutError:
            raise BackendError(f"{self.name} took longer than {self.timeout:g} s") from None


def _as_callable(model: Any) -> Callable[[Any], Any]:
    predict = getattr(model, "predict", None)
    if callable(predict):
        return lambda features: predict([features])[0]
    if callable(model):
        return model  # type: ignore[no-any-return]
    raise ValidationError(f"a model must be callable or have predict(), got {type(model).__name__}")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON values."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


class ArtifactModel:
    """A model loaded from its artifact on first use, in a worker thread (a large file or
    MLflow's import never stalls the event loop; concurrent first calls share one load).
    A load that fails, refused by the policy included, is this backend's
    :class:`BackendError`, and is tried again after :data:`RELOAD_AFTER` seconds."""

    def __init__(
        self, name: str, uri: str, policy: ArtifactPolicy, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.name, self.uri, self.timeout = name, uri, timeout
        self._policy = policy
        self._model: PythonModel | None = None
        self._loading: asyncio.Future[PythonModel] | None = None
        self._failed: tuple[float, str] | None = None

    async def predict(self, features: Any) -> Any:
        return await (await self._loaded()).predict(features)

    async def _loaded(self) -> PythonModel:
        if self._model is not None:
            return self._model
        if self._failed is not None and time.monotonic() - self._failed[0] < RELOAD_AFTER:
            raise BackendError(self._failed[1])
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
        loading = self._loading
        try:
            # Shielded: a caller that gives up does not cancel the load others wait for.
            self._model = await asyncio.shield(loading)
        except Exception as exc:  # whatever stops a load makes this backend fail
            reason = str(exc) if isinstance(exc, AblabError) else f"{type(exc).__name__}: {exc}"
            self._failed = (time.monotonic(), f"{self.name} cannot be loaded: {reason}")
            raise BackendError(self._failed[1]) from None
        finally:
            if self._loading is loading and loading.done():
                self._loading = None
        return self._model

    def _load(self) -> PythonModel:
        return PythonModel(self.name, load_artifact(self.uri, self._policy), timeout=self.timeout)


def backend_for(
    model: str,
    version: ModelVersion,
    pool: SessionPool,
    *,
    artifacts: ArtifactPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Backend:
    """The backend of a registered model version; it loads nothing until it is called."""
    name = f"{model}@{version.version}"
    if version.backend is BackendKind.ENDPOINT:
        return HttpModel(name, version.backend_uri, pool, timeout=timeout)
    return ArtifactModel(name, version.backend_uri, artifacts or ArtifactPolicy(), timeout=timeout)
