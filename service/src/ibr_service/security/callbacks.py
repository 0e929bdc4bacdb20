"""SSRF guard for callback URLs (``header.sender_uri`` of async requests, subscriber URLs).

A URL is accepted when its scheme is http(s), its host is one of the client's allowed callback
hosts, and every address the host resolves to is public. Private, loopback, link-local,
multicast, reserved and unspecified addresses are refused unless the client is explicitly marked
``allow_private_callbacks`` (a deployment inside one government network). The dispatcher checks
again right before each POST, because DNS may change between the request and the delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from ibr_protocol.errors import ErrorCode
from ibr_service.security.errors import ForbiddenError

__all__ = ["Resolver", "check_callback_url", "host_matches", "resolve_host"]

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
    if not host_matches(host, allowed):
        raise _refuse(
            f"callback host {host!r} is not among the client's allowed callback hosts "
            f"({', '.join(allowed) or 'none registered'})",
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
