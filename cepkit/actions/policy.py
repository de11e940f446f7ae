"""Which hosts actions and channels may contact: an allow list and a deny list.

Denied by default: link-local networks (``169.254.0.0/16``, ``fe80::/10``, where cloud
metadata services live), the other known metadata addresses and names, and the
unspecified addresses. **Loopback is allowed by default** (local relays, sidecars and
the tests' fake services on 127.0.0.1); deployments that must not reach the host set
``allow_loopback=False``. The deny list always wins; a non-empty allow list then
admits only what it names (hosts, ``*.suffix`` patterns or networks).

A host name is resolved and *every* address it resolves to is checked, so a name
pointing at a metadata address is denied too. (A name that re-resolves differently a
moment later is not caught; pin such targets with the allow list.)

>>> import asyncio
>>> policy = TargetPolicy()
>>> asyncio.run(policy.check("http://169.254.169.254/latest/meta-data"))
Traceback (most recent call last):
...
cepkit.errors.ChannelError: target 169.254.169.254 is denied (169.254.0.0/16)
>>> asyncio.run(policy.check("http://[::ffff:169.254.169.254]/"))
Traceback (most recent call last):
...
cepkit.errors.ChannelError: target ::ffff:169.254.169.254 is denied (169.254.0.0/16)
>>> asyncio.run(policy.check("http://127.0.0.1:8080/hook")) is None
True
>>> asyncio.run(TargetPolicy(allow=["hooks.slack.com"]).check("https://evil.example/x"))
Traceback (most recent call last):
...
cepkit.errors.ChannelError: target evil.example is not in the allow list
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cepkit.errors import ChannelError

__all__ = ["DEFAULT_DENY", "TargetPolicy"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: denied unless the deployment says otherwise
DEFAULT_DENY: tuple[str, ...] = (
    "169.254.0.0/16",  # IPv4 link-local: AWS, GCP, Azure, OpenStack metadata
    "fe80::/10",  # IPv6 link-local
    "fd00:ec2::254/128",  # AWS metadata over IPv6
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "0.0.0.0/8",
    "::/128",
    "metadata.google.internal",
    "metadata",
    "instance-data",
)

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _network(entry: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def _address(text: str) -> IPAddress:
    ip = ipaddress.ip_address(text.split("%")[0])
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return mapped or ip


def _is_address(host: str) -> bool:
    try:
        _address(host)
    except ValueError:
        return False
    return True


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True)
class TargetPolicy:
    """Allow/deny rules for outgoing targets (URLs or ``smtp://host:port``)."""

    allow: tuple[str, ...] | list[str] = ()
    deny: tuple[str, ...] | list[str] = DEFAULT_DENY
    allow_loopback: bool = True
    resolve: bool = True
    _compiled: tuple[tuple[IPNetwork | str, ...], tuple[IPNetwork | str, ...]] = field(
        init=False, repr=False, compare=False
    )
    #: target -> its verdict (None, or why it is denied), for targets that need no lookup
    _known: dict[str, str | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        def compile_(entries: tuple[str, ...] | list[str]) -> tuple[IPNetwork | str, ...]:
            return tuple(_network(entry) or entry.lower() for entry in entries)

        object.__setattr__(self, "_compiled", (compile_(self.allow), compile_(self.deny)))

    @staticmethod
    def _matching(entries: tuple[IPNetwork | str, ...], host: str, ips: list[IPAddress]) -> str:
        for entry in entries:
            if isinstance(entry, str):
                if _host_matches(host, entry):
                    return entry
            elif any(ip.version == entry.version and ip in entry for ip in ips):
                return str(entry)
        return ""

    async def _addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [_address(host)]
        except ValueError:
            pass
        if not self.resolve:
            return []
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return []  # unresolvable: the connection attempt will fail and say so
        return [_address(str(info[4][0])) for info in infos]

    async def check(self, target: str) -> None:
        """None when ``target`` may be contacted, else :class:`ChannelError` saying why.

        The verdict on a target whose host is an address (or when names are not
        resolved) depends on the target alone, so it is kept; a name is resolved again
        at every check.
        """
        if target in self._known:
            denied = self._known[target]
            if denied is not None:
                raise ChannelError(denied)
            return
        try:
            await self._check(target)
        except ChannelError as exc:
            self._keep(target, str(exc))
            raise
        self._keep(target, None)

    def _keep(self, target: str, denied: str | None) -> None:
        """Keep the verdict on ``target`` when no lookup went into it."""
        host = (urlsplit(target).hostname or "").lower().rstrip(".")
        if self.resolve and not _is_address(host):
            return
        if len(self._known) >= 1024:
            self._known.clear()
        self._known[target] = denied

    async def _check(self, target: str) -> None:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise ChannelError("target has no host")
        try:
            port = parts.port or {"https": 443, "smtp": 25}.get(parts.scheme, 80)
        except ValueError:
            raise ChannelError(f"target {host} has an invalid port") from None
        ips = await self._addresses(host, port)
        allow, deny = self._compiled
        if hit := self._matching(deny, host, ips):
            raise ChannelError(f"target {host} is denied ({hit})")
        if not self.allow_loopback and any(ip in net for ip in ips for net in _LOOPBACK):
            raise ChannelError(f"target {host} is denied (loopback)")
        if allow and not self._matching(allow, host, ips):
            raise ChannelError(f"target {host} is not in the allow list")
