"""SSRF guard for callback URLs (``header.sender_uri`` of async requests, subscriber URLs).

A URL is accepted when its scheme is http(s), it matches one of the client's allowed callback
targets, and every address the host resolves to is public. A target is registered as

- ``host:port`` (``[v6addr]:port``): that host, that port, either scheme;
- a base URL ``https://host[:port]/path``: that scheme, host and port, and paths under ``path``;
- ``host`` alone (also ``*.domain``): every port of it. Kept for existing registrations; it lets
  a client with private callbacks reach any service on that host (e.g. a local Redis), so
  ``ibr clients add`` warns and recommends ``host:port``.

Targets are checked when they are registered (``parse_target``) and URLs before each delivery.

Private, loopback, link-local, multicast, reserved and unspecified addresses are refused unless
the client is explicitly marked ``allow_private_callbacks`` (a deployment inside one government
network). The dispatcher checks again right before each POST, because DNS may change between
the request and the delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ibr_protocol.errors import ErrorCode
from ibr_service.security.errors import ForbiddenError

__all__ = [
    "CallbackTarget",
    "Resolver",
    "check_callback_url",
    "host_matches",
    "parse_target",
    "resolve_host",
    "target_matches",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}

Resolver = Callable[[str], list[str]]
"""Turns a host name into its IP addresses; injectable so tests need no DNS."""


def resolve_host(host: str) -> list[str]:
    """Every IP address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return sorted({str(info[4][0]) for info in infos})


def host_matches(host: str, allowed: Iterable[str]) -> bool:
    """True when ``host`` equals an allowed host or matches a ``*.example.org`` pattern."""
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


@dataclass(frozen=True)
class CallbackTarget:
    """One allowed callback target: a host pattern, and optionally scheme, port and path."""

    host: str
    port: int | None = None
    scheme: str | None = None
    path: str = ""

    @property
    def any_port(self) -> bool:
        return self.port is None and self.scheme is None


def parse_target(entry: str) -> CallbackTarget:
    """Read a registered target (``host``, ``host:port`` or a base URL); ValueError if junk."""
    text = entry.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"callback target {entry!r} is not an http(s) base URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError(f"callback target {entry!r} may not carry credentials or a query")
        port = _port_of(parts, entry)
        return CallbackTarget(
            parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme], parts.scheme, parts.path
        )
    parts = urlsplit(f"//{text}")
    if not parts.hostname or parts.path or parts.username:
        raise ValueError(f"callback target {entry!r} is not a host, host:port or base URL")
    return CallbackTarget(parts.hostname.lower().rstrip("."), _port_of(parts, entry))


def _port_of(parts: SplitResult, entry: str) -> int | None:
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"callback target {entry!r} has an invalid port") from None
    if port == 0:
        raise ValueError(f"callback target {entry!r} has an invalid port")
    return port


def target_matches(url: str, targets: Iterable[str]) -> bool:
    """True when ``url`` (absolute http(s)) matches one of the registered ``targets``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    for entry in targets:
        try:
            target = parse_target(entry)
        except ValueError:
            continue  # a junk entry stored before registration checked them allows nothing
        if not host_matches(host, [target.host]):
            continue
        if target.any_port:
            return True
        if target.port != port or (target.scheme and target.scheme != parts.scheme):
            continue
        base = target.path.rstrip("/")
        if not base or parts.path == base or parts.path.startswith(base + "/"):
            return True
    return False


def check_callback_url(
    url: str,
    *,
    allowed_hosts: Iterable[str],
    allow_private: bool,
    field: str = "header.sender_uri",
    resolver: Resolver = resolve_host,
) -> None:
    """Raise ``ForbiddenError`` (``err.sender_uri.invalid``) unless ``url`` is a safe callback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(f"callback URL {url!r} is not an absolute http(s) URL", field)
    if parts.username or parts.password:
        raise _refuse("callback URL must not carry credentials", field)
    host = parts.hostname
    allowed = list(allowed_hosts)
    if not target_matches(url, allowed):
        raise _refuse(
            f"callback host {host!r} (with this port and path) is not among the client's allowed "
            f"callback hosts ({', '.join(sorted(allowed))[:300] or 'none registered'})",
            field,
        )
    addresses = [host] if _is_ip(host) else resolver(host)
    if not addresses:
        raise _refuse(f"callback host {host!r} does not resolve", field)
    if allow_private:
        return
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not ip.is_global or ip.is_multicast:
            raise _refuse(
                f"callback host {host!r} resolves to the non-public address {ip}; "
                "private, loopback and link-local targets are refused for this client",
                field,
            )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refuse(message: str, field: str) -> ForbiddenError:
    return ForbiddenError(message, code=ErrorCode.SENDER_URI_INVALID, field=field)
