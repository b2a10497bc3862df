"""The HTTP backend: each operation sent to its route of the REST API, with httpx.

An error response becomes the same exception class the server raised (by its ``code``), and
a server that does not answer becomes ``Unavailable``. The transport can be injected, so
tests can route requests anywhere.
"""

from __future__ import annotations

from typing import Any, ParamSpec, TypeVar

import httpx

from ablab.client._operation import Operation
from ablab.errors import Unauthorized, Unavailable, error_class_for

__all__ = ["HttpBackend", "raise_for_error"]

P = ParamSpec("P")
Out = TypeVar("Out")


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

    def call(self, operation: Operation[P, Out], /, *args: P.args, **kwargs: P.kwargs) -> Out:
        request = operation.request(*args, **kwargs)
        response = self._send(
            request.method, request.path, params=request.params, json=request.json
        )
        raise_for_error(response)
        return operation.answer(response.json())

    def sdk_config(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """The ruleset and its ETag; (None, etag) when unchanged since ``etag``.

        Not an operation: only an SDK assigning from a server's ruleset needs it.
        """
        headers = {"If-None-Match": etag} if etag else {}
        response = self._send("GET", "/v1/sdk/config", headers=headers)
        if response.status_code == 304:
            return None, etag
        raise_for_error(response)
        config: dict[str, Any] = response.json()
        return config, response.headers.get("ETag")

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TransportError as exc:
            raise Unavailable(
                f"the ablab server at {self.base_url} does not answer ({type(exc).__name__})"
            ) from None

    def close(self) -> None:
        self._http.close()
