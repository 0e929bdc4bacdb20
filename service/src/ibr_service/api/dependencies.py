"""Host-specific things, declared once as placeholder dependencies.

Each function here has no body of its own: a host fills it through ``app.dependency_overrides``
(the standalone app in ``ibr_service.api.app``, the Odoo add-on with its own store and settings).
The routers only ever see the typed aliases at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends

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
]


def _not_provided(name: str) -> RuntimeError:
    return RuntimeError(f"the host did not provide the {name!r} dependency (dependency_overrides)")


def get_settings() -> Settings:
    """The host's settings."""
    raise _not_provided("settings")


def get_store() -> Store:
    """The store every operation runs against (SQL store standalone, OdooStore under Odoo)."""
    raise _not_provided("store")


def get_core() -> IbrCore:
    """The service core over that store."""
    raise _not_provided("core")


def get_keys() -> IbrKeys:
    """The IBR's private signing and token keys."""
    raise _not_provided("keys")


def get_tokens() -> TokenService:
    """Issues and validates access tokens."""
    raise _not_provided("tokens")


def get_throttles() -> Throttles:
    """The rate limiters of this process (in memory, per worker)."""
    raise _not_provided("throttles")


def get_clock() -> Callable[[], datetime]:
    """Returns the function that tells the time (zone-aware UTC); tests pin it."""
    raise _not_provided("clock")


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
CoreDep = Annotated[IbrCore, Depends(get_core)]
KeysDep = Annotated[IbrKeys, Depends(get_keys)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
ThrottlesDep = Annotated[Throttles, Depends(get_throttles)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
