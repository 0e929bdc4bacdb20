"""The standalone host's routers, mounted by a `fastapi.endpoint` (OCA fastapi) inside Odoo.

Same operations, inbound checks, token endpoint and JWKS as `ibr serve`; the store is an
`OdooStore` on the request's Odoo environment, so what a request writes commits with Odoo's
transaction for that request. Callbacks are delivered by the outbox cron, not by the web worker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI

from odoo.addons.fastapi.dependencies import odoo_env

from ibr_protocol.clock import utc_now
from ibr_protocol.tokens import TokenService
from ibr_service.api import dependencies as deps
from ibr_service.api.errors import install_error_handlers
from ibr_service.api.middleware import BodySizeLimit
from ibr_service.api.routers import (
    enrolled,
    enrollment,
    oauth,
    search,
    service,
    subscriptions,
    txn_status,
)
from ibr_service.core import CoreSettings, IbrCore
from ibr_service.security.keys import IbrKeys, load_or_create_keys
from ibr_service.settings import Settings

from ..store import OdooStore

__all__ = ["REGISTRY_PREFIXES", "build_ibr_app"]

REGISTRY_PREFIXES = ("/registry", "")
"""Under the endpoint's root path (`/ibr`): `/ibr/registry/<op>` and `/ibr/<op>`."""


def build_ibr_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """The IBR app for one `fastapi.endpoint`; the OCA bridge mounts it at the root path."""
    app = FastAPI(
        title="Integrated Beneficiary Registry", openapi_url=None, docs_url=None, redoc_url=None
    )
    registry = APIRouter()
    for module in (enrollment, enrolled, search, txn_status, subscriptions):
        registry.include_router(module.router)
    for prefix in REGISTRY_PREFIXES:
        app.include_router(registry, prefix=prefix)
    app.include_router(oauth.router)
    app.include_router(service.router)
    install_error_handlers(app)
    # The DCI error answers are the spec's: the endpoint keeps these handlers (see the model).
    app.state.ibr_keeps_error_handlers = True
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)

    def store(env: Annotated[Any, Depends(odoo_env)]) -> OdooStore:
        return OdooStore(env)

    def core(store: deps.StoreDep) -> IbrCore:
        return IbrCore(store, clock=clock, settings=CoreSettings(receiver_id=settings.receiver_id))

    def keys(store: deps.StoreDep) -> IbrKeys:
        return load_or_create_keys(store, now=clock())

    def tokens(keys: deps.KeysDep) -> TokenService:
        return TokenService(
            private_jwk=keys.token_key,
            issuer=settings.receiver_id,
            lifetime_seconds=settings.token_lifetime_seconds,
        )

    app.dependency_overrides.update(
        {
            deps.get_settings: lambda: settings,
            deps.get_store: store,
            deps.get_core: core,
            deps.get_keys: keys,
            deps.get_tokens: tokens,
            deps.get_clock: lambda: clock,
        }
    )
    return app
