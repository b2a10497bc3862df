"""The outbound policy on aiohttp's connections (the model endpoints' session).

aiohttp resolves a host name through its connector's resolver and connects to the
addresses it returned (cached for the connector's DNS TTL): :class:`GuardedResolver`
checks each of them, so a name that resolves somewhere refused, now or after a rebinding,
is never connected to. aiohttp connects to a literal address without asking the resolver,
so :class:`~ablab.gateway.backends.HttpModel` checks those itself, once per endpoint.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ablab.domain.trust import OutboundPolicy
from ablab.services.access.outbound import literal_address

__all__ = ["AddressRefused", "GuardedResolver"]


class AddressRefused(OSError):
    """A resolved address the outbound policy refuses (aiohttp reports it as the cause of
    its connection error)."""


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, answering only with addresses that ``policy`` allows."""

    def __init__(self, policy: OutboundPolicy, resolver: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        for entry in found:
            address = literal_address(entry["host"])
            refusal = (
                "it resolved to no usable address"
                if address is None
                else self._policy.address_refusal(address, host=host)
            )
            if refusal is not None:  # deny wins: one refused address refuses the name
                raise AddressRefused(f"refused to call {host}: {refusal}")
        return found

    async def close(self) -> None:
        await self._resolver.close()
