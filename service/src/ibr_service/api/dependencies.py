"""Host-specific things, declared once as placeholder dependencies.

A host fills each either with fixed values through ``provide(app, ...)`` (the standalone app in
``ibr_service.api.app``: the placeholders are coroutines that read ``app.state``, so a request
resolves them on the event loop, with no thread hand-off and no per-request re-inspection of
overridden dependencies) or through ``app.dependency_overrides`` (the Odoo add-on, whose store
and core depend on the request). The routers only ever see the typed aliases at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI, Request

from ibr_protocol.tokens import TokenService
from ibr_service.core import IbrCore
from ibr_service.core.store import Store
from ibr_service.security.keys import IbrKeys
from ibr_service.security.throttle import Throttles
from ibr_service.settings import Settings

__all__ = [
    "ClockDep",
    "CoreDep",
    "KeysDep",
    "SettingsDep",
    "StoreDep",
    "ThrottlesDep",
    "TokensDep",
    "get_clock",
    "get_core",
    "get_keys",
    "get_settings",
    "get_store",
    "get_throttles",
    "get_tokens",
    "provide",
]


def _not_provided(name: str) -> RuntimeError:
    return RuntimeError(
        f"the host did not provide the {name!r} dependency (provide() or dependency_overrides)"
    )


def provide(
    app: FastAPI,
    *,
    settings: Settings,
    store: Store,
    core: IbrCore,
    keys: IbrKeys,
    tokens: TokenService,
    clock: Callable[[], datetime],
    throttles: Throttles,
) -> None:
    """Give every placeholder a fixed value for the lifetime of ``app``."""
    app.state.ibr_provided = {
        "settings": settings,
        "store": store,
        "core": core,
        "keys": keys,
        "tokens": tokens,
        "clock": clock,
        "throttles": throttles,
    }


def _provided(request: Request, name: str) -> Any:
    provided = getattr(request.app.state, "ibr_provided", None)
    if provided is None or name not in provided:
        raise _not_provided(name)
    return provided[name]


async def get_settings(request: Request) -> Settings:
    """The host's settings."""
    return cast(Settings, _provided(request, "settings"))


async def get_store(request: Request) -> Store:
    """The store every operation runs against (SQL store standalone, OdooStore under Odoo)."""
    return cast(Store, _provided(request, "store"))


async def get_core(request: Request) -> IbrCore:
    """The service core over that store."""
    return cast(IbrCore, _provided(request, "core"))


async def get_keys(request: Request) -> IbrKeys:
    """The IBR's private signing and token keys."""
    return cast(IbrKeys, _provided(request, "keys"))


async def get_tokens(request: Request) -> TokenService:
    """Issues and validates access tokens."""
    return cast(TokenService, _provided(request, "tokens"))


async def get_throttles(request: Request) -> Throttles:
    """The rate limiters of this process (in memory, per worker)."""
    return cast(Throttles, _provided(request, "throttles"))


async def get_clock(request: Request) -> Callable[[], datetime]:
    """Returns the function that tells the time (zone-aware UTC); tests pin it."""
    return cast(Callable[[], datetime], _provided(request, "clock"))


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
CoreDep = Annotated[IbrCore, Depends(get_core)]
KeysDep = Annotated[IbrKeys, Depends(get_keys)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
ThrottlesDep = Annotated[Throttles, Depends(get_throttles)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
