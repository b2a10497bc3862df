"""Model backends: an HTTP endpoint, or a model loaded in this process.

Every backend answers ``await backend.predict(features)`` with the model's prediction or
raises :class:`BackendError`. HTTP backends share one aiohttp session (one connection
pool for every model server): measured here, a FastAPI proxy on aiohttp's client served
about 4,800 requests/s where httpx's AsyncClient managed about 1,000 (PERF_NOTES).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from ablab.domain.models import BackendKind, ModelVersion
from ablab.errors import AblabError, ValidationError

__all__ = [
    "Backend",
    "BackendError",
    "HttpModel",
    "PythonModel",
    "SessionPool",
    "backend_for",
    "load_artifact",
]

DEFAULT_TIMEOUT = 2.0


class BackendError(Exception):
    """A model did not answer usefully: an error status, a timeout, a refused connection."""


class Backend(Protocol):
    name: str
    timeout: float

    async def predict(self, features: Any) -> Any: ...


class SessionPool:
    """One aiohttp session for all HTTP backends, made in the running event loop."""

    def __init__(self, *, connections: int = 256) -> None:
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


class HttpModel:
    """``POST url`` with ``{"features": ...}``; the answer is ``{"prediction": ...}`` or any
    JSON value, taken whole."""

    def __init__(
        self, name: str, url: str, pool: SessionPool, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.name, self.url, self.timeout = name, url, timeout
        self._pool = pool

    async def predict(self, features: Any) -> Any:
        try:
            async with self._pool.session().post(
                self.url,
                json={"features": features},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status >= 400:
                    raise BackendError(f"{self.name} answered HTTP {response.status}")
                body = await response.json(content_type=None)
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


def load_artifact(uri: str) -> Any:
    """A model from a joblib or pickle file, a skops file, or ``module:attribute``.

    Only load artifacts you trust: joblib and pickle files run code when loaded.

    Raises:
        ValidationError: the file is missing, of an unknown kind, or the attribute absent.
    """
    if ":" in uri and not Path(uri).suffix:
        module_name, _, attribute = uri.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise ValidationError(f"cannot load {uri!r}: {exc}") from None
        return found
    path = Path(uri)
    if not path.is_file():
        raise ValidationError(f"model artifact not found: {uri}")
    if path.suffix == ".skops":
        try:
            import skops.io
        except ImportError:
            raise ValidationError("a .skops artifact needs the skops package installed") from None
        return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    import joblib

    return joblib.load(path)


def backend_for(
    model: str, version: ModelVersion, pool: SessionPool, *, timeout: float = DEFAULT_TIMEOUT
) -> Backend:
    """The backend of a registered model version."""
    name = f"{model}@{version.version}"
    if version.backend is BackendKind.ENDPOINT:
        return HttpModel(name, version.backend_uri, pool, timeout=timeout)
    return PythonModel(name, load_artifact(version.backend_uri), timeout=timeout)
