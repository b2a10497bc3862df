"""Where the server may send requests: URLs checked when registered, addresses when used.

A URL registered through the API (a model endpoint, an LLM webhook) is checked when it is
registered, on what its host says: a literal address, or a name denied as such. Where a
name leads is known only when it is resolved, and can change after the check (DNS
rebinding), so every request resolves the name itself, checks each address it got, and
connects to a checked address without resolving again. This module does that for httpx
(LLM webhooks, the alert webhook); :mod:`ablab.gateway.outbound` for aiohttp (endpoints).

A refused request raises :class:`OutboundRefused`, an httpx error that says the request
cannot be sent at all, so callers fail it at once rather than retrying.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from ablab.domain.trust import Address, OutboundPolicy
from ablab.errors import ValidationError

__all__ = [
    "GuardedAsyncTransport",
    "GuardedTransport",
    "OutboundRefused",
    "check_url",
    "checked_address",
    "guarded_async_transport",
    "guarded_transport",
    "literal_address",
    "url_refusal",
]

# getaddrinfo's answer: (family, type, proto, canonical name, socket address) tuples.
_Found = Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]


# httpx's "this request cannot be sent" error: the LLM runner fails such a task at once
# instead of retrying it (a refusal does not pass with time).
class OutboundRefused(httpx.UnsupportedProtocol):
    """The outbound policy refuses the request's destination."""


def literal_address(host: str) -> Address | None:
    """The address ``host`` names without a look-up, in any form the system's resolver
    reads as numeric (``2852039166`` and ``0xa9fea9fe`` are ``169.254.169.254``).

    Examples:
        >>> literal_address("0xa9fea9fe"), literal_address("[::1]"), literal_address("m.test")
        (IPv4Address('169.254.169.254'), IPv6Address('::1'), None)
    """
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return ip_address(str(found[0][4][0]))


def url_refusal(policy: OutboundPolicy, url: str) -> str | None:
    """Why ``policy`` refuses ``url`` on what its host alone says (a literal address, a
    denied name), or ``None``; where a name leads is checked when it is resolved."""
    try:
        host = urlsplit(url).hostname
    except ValueError:  # the form is checked by the caller
        return None
    if host is None:
        return None
    literal = literal_address(host)
    return policy.address_refusal(literal) if literal is not None else policy.host_refusal(host)


def check_url(policy: OutboundPolicy, url: str, field: str) -> None:
    """Refuse ``url`` when its host alone tells the policy refuses it.

    Raises:
        ValidationError: a literal address or a host name the policy refuses (details
            name ``field``).
    """
    refusal = url_refusal(policy, url)
    if refusal is not None:
        raise ValidationError(
            f"{field} {url!r} is refused: {refusal}", details={"field": field, field: url}
        )


def checked_address(policy: OutboundPolicy, host: str, found: _Found) -> Address:
    """The address to connect to among those ``host`` resolved to (``getaddrinfo``'s
    answer), once every one of them passed the policy.

    Raises:
        OutboundRefused: one of them is refused (deny wins: a name that also leads
            somewhere refused is refused whole).
    """
    named = None if literal_address(host) is not None else host
    addresses = [ip_address(str(entry[4][0])) for entry in found]
    for address in addresses:
        refusal = policy.address_refusal(address, host=named)
        if refusal is not None:
            raise OutboundRefused(f"refused to call {host}: {refusal}")
    if not addresses:
        raise httpx.ConnectError(f"{host} resolved to no address")
    return addresses[0]


class GuardedAsyncTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends each request to an address the policy allows."""

    def __init__(
        self, policy: OutboundPolicy, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._policy = policy
        self._inner = transport or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host, port = request.url.host, _port(request.url)
        try:
            found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from None
        address = checked_address(self._policy, host, found)
        return await self._inner.handle_async_request(_pinned(request, address))

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(httpx.BaseTransport):
    """The blocking twin of :class:`GuardedAsyncTransport`."""

    def __init__(self, policy: OutboundPolicy, transport: httpx.BaseTransport | None = None):
        self._policy = policy
        self._inner = transport or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host, port = request.url.host, _port(request.url)
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from None
        address = checked_address(self._policy, host, found)
        return self._inner.handle_request(_pinned(request, address))

    def close(self) -> None:
        self._inner.close()


def guarded_async_transport(policy: OutboundPolicy) -> httpx.AsyncBaseTransport | None:
    """The transport that enforces ``policy``; ``None`` (httpx's own) when it allows all."""
    return None if policy.anywhere else GuardedAsyncTransport(policy)


def guarded_transport(policy: OutboundPolicy) -> httpx.BaseTransport | None:
    """The blocking transport that enforces ``policy``; ``None`` when it allows all."""
    return None if policy.anywhere else GuardedTransport(policy)


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _pinned(request: httpx.Request, address: Address) -> httpx.Request:
    """``request`` sent to ``address``: the Host header stays, and TLS still checks the
    certificate against the name (httpcore's ``sni_hostname``)."""
    extensions = dict(request.extensions)
    if request.url.scheme == "https" and literal_address(request.url.host) is None:
        extensions.setdefault("sni_hostname", request.url.host)
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=request.headers,
        stream=request.stream,
        extensions=extensions,
    )
