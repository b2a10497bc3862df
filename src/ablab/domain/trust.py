"""What ablab trusts: where in-process models load from, and where its requests go.

A server takes orders from API keys, and a key must never make it run code or reach a
network its operator did not choose. Two small policies, set by the operator, bound that:

* :class:`ArtifactPolicy`: an in-process model (a joblib, pickle or skops file, a
  ``module:attribute``, an MLflow model) loads only from the folders, module prefixes and
  MLflow registry the operator named. With none named, none loads.
* :class:`OutboundPolicy`: model endpoints and webhooks reach only the addresses the
  policy allows. Link-local, cloud metadata, unspecified, multicast and broadcast
  addresses are never reached; an operator's deny list is added to them, and deny wins.

:class:`Trust` carries both, in every use case's context. The embedded store on a person's
own machine uses :func:`Trust.local`, which allows everything: whoever runs it can run
any code there already. The policies are pure: the layers above resolve paths and host
names, then ask them.

Examples:
    >>> policy = OutboundPolicy.from_rules(allow=[], deny=["10.0.0.0/8"])
    >>> policy.address_refusal(ip_address("10.1.2.3"))
    '10.1.2.3 is in a network this server may not call (ABLAB_OUTBOUND_DENY)'
    >>> policy.host_refusal("169.254.169.254") is not None
    True
    >>> policy.host_refusal("models.internal") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import PurePath

from ablab.errors import ValidationError

__all__ = [
    "ALWAYS_DENIED_HOSTS",
    "ALWAYS_DENIED_NETWORKS",
    "Address",
    "ArtifactPolicy",
    "Network",
    "OutboundPolicy",
    "Trust",
]

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Never reached, whatever the operator allows. Cloud metadata services answer on
# link-local addresses (169.254.169.254 for AWS, GCP, Azure, OpenStack; 169.254.170.2 for
# ECS tasks) and on a few others listed one by one; 0.0.0.0 and :: reach the local host
# on Linux, so "unspecified" is no safer than loopback and is refused with the rest.
ALWAYS_DENIED_NETWORKS: tuple[Network, ...] = tuple(
    ip_network(cidr)
    for cidr in (
        "169.254.0.0/16",  # IPv4 link-local, cloud metadata
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS instance metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure's host (WireServer)
        "0.0.0.0/8",  # "this network", 0.0.0.0 included
        "::/128",  # unspecified
        "224.0.0.0/4",  # IPv4 multicast
        "ff00::/8",  # IPv6 multicast
        "255.255.255.255/32",  # broadcast
    )
)
ALWAYS_DENIED_HOSTS: tuple[str, ...] = ("metadata.google.internal", "metadata.goog")

# NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = ip_network("64:ff9b::/96")
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")


@dataclass(frozen=True, slots=True)
class ArtifactPolicy:
    """Where in-process models may come from.

    Attributes:
        anywhere: Any file, any module, MLflow with its own defaults (the local store).
        folders: Resolved absolute folders whose files (joblib, pickle, skops) may load.
        modules: Module prefixes whose ``module:attribute`` callables may load
            (``acme.models`` allows ``acme.models`` and ``acme.models.triage``).
        mlflow_tracking_uri: MLflow's tracking store; set, ``models:/`` and ``runs:/``
            artifacts load from it.
        mlflow_registry_uri: MLflow's model registry, when it is not the tracking store.
        skops_trusted_types: Types a skops file may hold beyond scikit-learn's estimators
            and the numpy/scipy types they are made of.
    """

    anywhere: bool = False
    folders: tuple[PurePath, ...] = ()
    modules: tuple[str, ...] = ()
    mlflow_tracking_uri: str | None = field(default=None, repr=False)
    mlflow_registry_uri: str | None = field(default=None, repr=False)
    skops_trusted_types: tuple[str, ...] = ()

    @property
    def allows_mlflow(self) -> bool:
        return self.anywhere or self.mlflow_tracking_uri is not None

    def allows_file(self, resolved: PurePath) -> bool:
        """Whether the file at ``resolved`` (absolute, links and ``..`` resolved) may load.

        Examples:
            >>> ArtifactPolicy(folders=(PurePath("/srv/models"),)).allows_file(
            ...     PurePath("/srv/models/a/v1.joblib"))
            True
            >>> ArtifactPolicy(folders=(PurePath("/srv/models"),)).allows_file(
            ...     PurePath("/srv/models-old/v1.joblib"))
            False
        """
        return self.anywhere or any(resolved.is_relative_to(f) for f in self.folders)

    def allows_module(self, module: str) -> bool:
        """Whether ``module`` is one of the allowed modules or inside one.

        Examples:
            >>> policy = ArtifactPolicy(modules=("acme.models",))
            >>> [policy.allows_module(m) for m in ("acme.models.x", "acme.modelsx", "acme")]
            [True, False, False]
        """
        return self.anywhere or any(
            module == prefix or module.startswith(prefix + ".") for prefix in self.modules
        )


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Which addresses the server may send requests to (model endpoints, webhooks).

    A destination is refused when it is always denied (:data:`ALWAYS_DENIED_NETWORKS`,
    :data:`ALWAYS_DENIED_HOSTS`) or denied by the operator, by network or by host name;
    otherwise, when the operator gave an allow list, it must be in it (by host name, or
    every address the name resolves to by network); without one, it is allowed.

    Attributes:
        anywhere: Nothing is refused (the local store).
        allowed_networks: Networks the server may call (empty with no hosts: any).
        allowed_hosts: Host names the server may call (``*.example.com`` for subdomains).
        denied_networks: Networks never called, beyond the built-in ones.
        denied_hosts: Host names never called, beyond the built-in ones.
    """

    anywhere: bool = False
    allowed_networks: tuple[Network, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    denied_networks: tuple[Network, ...] = ()
    denied_hosts: tuple[str, ...] = ()

    @classmethod
    def from_rules(cls, allow: Iterable[str], deny: Iterable[str]) -> OutboundPolicy:
        """The policy of an operator's allow and deny lists of networks and host names.

        Raises:
            ValidationError: an entry that is neither a network nor a host name.
        """
        allowed_networks, allowed_hosts = _split_rules(allow, "ABLAB_OUTBOUND_ALLOW")
        denied_networks, denied_hosts = _split_rules(deny, "ABLAB_OUTBOUND_DENY")
        return cls(
            allowed_networks=allowed_networks,
            allowed_hosts=allowed_hosts,
            denied_networks=denied_networks,
            denied_hosts=denied_hosts,
        )

    def host_refusal(self, host: str) -> str | None:
        """Why a URL naming ``host`` is refused before any look-up, or ``None``.

        A literal address is judged whole; a name only when it is denied by name (where it
        leads is known when it is resolved: see :meth:`address_refusal`).
        """
        if self.anywhere:
            return None
        try:
            literal = ip_address(host.strip("[]"))
        except ValueError:
            return self._name_refusal(_normal(host))
        return self.address_refusal(literal)

    def address_refusal(self, address: Address, host: str | None = None) -> str | None:
        """Why connecting to ``address`` (which ``host`` resolved to) is refused, or ``None``."""
        if self.anywhere:
            return None
        name = _normal(host) if host is not None else None
        if name is not None and (refused := self._name_refusal(name)) is not None:
            return refused
        for candidate in _with_embedded(address):
            if any(candidate in network for network in ALWAYS_DENIED_NETWORKS):
                return (
                    f"{address} is a link-local, cloud metadata, unspecified, multicast or "
                    "broadcast address, which ablab never calls"
                )
            if any(candidate in network for network in self.denied_networks):
                return f"{address} is in a network this server may not call (ABLAB_OUTBOUND_DENY)"
        if not (self.allowed_networks or self.allowed_hosts):
            return None
        if name is not None and _matches(name, self.allowed_hosts):
            return None
        if any(address in network for network in self.allowed_networks):
            return None
        shown = f"{host} ({address})" if host is not None else str(address)
        return f"{shown} is not among the hosts this server may call (ABLAB_OUTBOUND_ALLOW)"

    def _name_refusal(self, name: str) -> str | None:
        if _matches(name, ALWAYS_DENIED_HOSTS):
            return f"{name} is a cloud metadata service, which ablab never calls"
        if _matches(name, self.denied_hosts):
            return f"{name} is a host this server may not call (ABLAB_OUTBOUND_DENY)"
        return None


@dataclass(frozen=True, slots=True)
class Trust:
    """Both policies, as a server's operator set them (the default: nothing configured)."""

    artifacts: ArtifactPolicy = field(default_factory=ArtifactPolicy)
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)

    @classmethod
    def local(
        cls,
        *,
        mlflow_tracking_uri: str | None = None,
        mlflow_registry_uri: str | None = None,
        skops_trusted_types: Iterable[str] = (),
    ) -> Trust:
        """The policies of a person's own machine: any model, any destination."""
        return cls(
            ArtifactPolicy(
                anywhere=True,
                mlflow_tracking_uri=mlflow_tracking_uri,
                mlflow_registry_uri=mlflow_registry_uri,
                skops_trusted_types=tuple(skops_trusted_types),
            ),
            OutboundPolicy(anywhere=True),
        )


def _split_rules(rules: Iterable[str], setting: str) -> tuple[tuple[Network, ...], tuple[str, ...]]:
    networks: list[Network] = []
    hosts: list[str] = []
    for rule in (r.strip() for r in rules):
        if not rule:
            continue
        try:
            networks.append(ip_network(rule.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = _normal(rule)
        if not _HOST_NAME.fullmatch(name):
            raise ValidationError(
                f"{setting}: {rule!r} is neither a network (10.0.0.0/8, ::1) nor a host name",
                details={"setting": setting, "entry": rule},
            )
        hosts.append(name)
    return tuple(networks), tuple(hosts)


def _normal(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(
        name.endswith(pattern[1:]) if pattern.startswith("*.") else name == pattern
        for pattern in patterns
    )


def _with_embedded(address: Address) -> list[Address]:
    """The address and any IPv4 address carried inside it (mapped, 6to4, Teredo, NAT64),
    which the network may deliver to as if it had been named itself."""
    found: list[Address] = [address]
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.append(address.teredo[1])
        if address in _NAT64:
            found.append(IPv4Address(int(address) & 0xFFFFFFFF))
    return found
