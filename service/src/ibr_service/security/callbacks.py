"""SSRF guard for callback URLs (``header.sender_uri`` of async requests, subscriber URLs).

A URL is accepted when its scheme is http(s), it matches one of the client's allowed callback
targets (host AND port), and every address the host resolves to is public. A target is
registered as

- ``host:port`` (``[v6addr]:port``, ``*.domain:port``): that host, that port, either scheme;
- a base URL ``https://host[:port]/path``: that scheme, host and port (the scheme's default
  when none is written), and paths under ``path``.

A bare ``host`` is refused at registration (``parse_target``): it used to allow every port of
the host, so a client allowed private callbacks could make the IBR POST to any service there
(a local Redis on 6379). Bare hosts stored before that rule still load, but allow only the
scheme's default port (80 for http, 443 for https: what the host alone means in a URL), and a
refused URL says how to re-register (``ibr clients callback-targets SENDER --callback-host
host:PORT``); that keeps a public SP-MIS on https://host/... working and closes every other port.

Targets are checked when they are registered (``parse_target``) and URLs at the request and
again before each delivery (``check_callback_url``).

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
    "read_stored_target",
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
    """One allowed callback target: a host pattern and a port, optionally scheme and path.

    ``port=None`` only for a bare host stored before targets needed a port (``legacy``): it
    allows the default port of the URL's scheme.
    """

    host: str
    port: int | None = None
    scheme: str | None = None
    path: str = ""

    @property
    def legacy(self) -> bool:
        return self.port is None


def parse_target(entry: str) -> CallbackTarget:
    """Read a target being registered (``host:port`` or a base URL); ValueError if not one."""
    target = read_stored_target(entry)
    if target.legacy:
        raise ValueError(
            f"callback target {entry.strip()!r} has no port: write {_with_port(entry)} "
            f"(e.g. {_with_port(entry, 8443)}) or a base URL such as https://"
            f"{entry.strip()}/callbacks"
        )
    return target


def read_stored_target(entry: str) -> CallbackTarget:
    """Read a stored target; a bare host (allowed before ports were required) is ``legacy``."""
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
        raise ValueError(f"callback target {entry!r} is not a host:port or base URL")
    return CallbackTarget(parts.hostname.lower().rstrip("."), _port_of(parts, entry))


def _with_port(entry: str, port: int | None = None) -> str:
    return f"{entry.strip()}:{port or 'PORT'}"


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
    return _match(url, targets)[0]


def _match(url: str, targets: Iterable[str]) -> tuple[bool, list[str]]:
    """Whether ``url`` matches a target, and the legacy bare-host entries that name its host
    but allow only their default port (for the refusal's hint)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False, []
    legacy_hosts: list[str] = []
    for entry in targets:
        try:
            target = read_stored_target(entry)
        except ValueError:
            continue  # a junk entry stored before registration checked them allows nothing
        if not host_matches(host, [target.host]):
            continue
        if target.legacy:
            if port == _DEFAULT_PORTS.get(parts.scheme):
                return True, []
            legacy_hosts.append(entry.strip())
            continue
        if target.port != port or (target.scheme and target.scheme != parts.scheme):
            continue
        base = target.path.rstrip("/")
        if not base or parts.path == base or parts.path.startswith(base + "/"):
            return True, []
    return False, legacy_hosts


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
    matches, legacy = _match(url, allowed)
    if not matches:
        hint = ""
        if legacy:
            hint = (
                f"; the registered target {legacy[0]!r} has no port, so it allows only port 80 "
                f"(http) or 443 (https): re-register it with `ibr clients callback-targets "
                f"SENDER_ID --callback-host {_with_port(legacy[0])}`"
            )
        raise _refuse(
            f"callback host {host!r} (with this port and path) is not among the client's allowed "
            f"callback hosts ({', '.join(sorted(allowed))[:200] or 'none registered'}){hint}",
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
