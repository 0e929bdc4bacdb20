"""The per-address rate limit of every operation and of the token endpoint (a dependency)."""

from __future__ import annotations

from fastapi import Request

from ibr_service.api.dependencies import ThrottlesDep

__all__ = ["check_address_rate", "source_address"]


def source_address(request: Request) -> str:
    """The peer's address as the ASGI server saw it (behind a proxy: run uvicorn with
    ``--forwarded-allow-ips`` so that it is the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"


async def check_address_rate(request: Request, throttles: ThrottlesDep) -> None:
    """429 + Retry-After when this address sent more than its rate (before the body is read).

    A coroutine although it does not wait: a plain function would cost every request a hand-off
    to the thread pool."""
    throttles.per_address.hit(f"addr:{source_address(request)}")
