"""The standalone host's routers, mounted by a `fastapi.endpoint` (OCA fastapi) inside Odoo.

`include_ibr_routers` gives the same operations, inbound checks, rate limits, token endpoint,
JWKS and DCI error answers as `ibr serve`. The store is an `OdooStore` on the request's Odoo
environment, so what a request writes commits with Odoo's transaction for that request.
Callbacks are delivered by the outbox cron, not by the web worker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from odoo.addons.fastapi.dependencies import odoo_env

from ibr_protocol.clock import utc_now
from ibr_protocol.tokens import TokenService
from ibr_service.api import dependencies as deps
from ibr_service.api.app import include_ibr_routers
from ibr_service.api.middleware import BodySizeLimit
from ibr_service.core import IbrCore
from ibr_service.security.keys import IbrKeys, load_or_create_keys
from ibr_service.security.throttle import Throttles
from ibr_service.settings import Settings

from ..store import OdooStore

__all__ = ["build_ibr_app"]


def build_ibr_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """The IBR app of one `fastapi.endpoint`; the OCA bridge mounts it at the root path."""
    app = FastAPI(
        title="Integrated Beneficiary Registry", openapi_url=None, docs_url=None, redoc_url=None
    )
    include_ibr_routers(app)
    # The DCI error answers are the spec's: the endpoint model keeps these handlers.
    app.state.ibr_keeps_error_handlers = True
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(OperationsAtTheRoot)
    throttles = Throttles.from_settings(settings)
    # The service's checks of every ingested batch (the overlap check: IBR_OVERLAP_CHECK,
    # IBR_PROGRAMME_RULES_FILE), run on the OdooStore's transaction like the rest of the batch.
    batch_checks = settings.batch_checks()
    # The deployment's identifier types, consent and tolerances (IBR_IDENTIFIER_TYPES_FILE,
    # IBR_REQUIRE_CONSENT, ...), as `ibr serve` builds them; a bad file fails here, once.
    core_settings = settings.core_settings()

    def store(env: Annotated[Any, Depends(odoo_env)]) -> OdooStore:
        return OdooStore(env)

    def core(store: deps.StoreDep) -> IbrCore:
        return IbrCore(
            store,
            clock=clock,
            settings=core_settings,
            batch_checks=batch_checks,
        )

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
            deps.get_throttles: lambda: throttles,
        }
    )
    return app


_HOST_PATHS = ("/registry", "/ibr", "/oauth2", "/.well-known", "/health", "/ready", "/openapi")


class OperationsAtTheRoot:
    """`/ibr/<op>` inside Odoo is the standalone host's `/ibr/<op>`.

    The endpoint's root path `/ibr` is stripped by the bridge, so an operation arrives as
    `/<op>`; it is routed to the `/ibr/<op>` route the shared routers declare.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "")
            path = scope["path"]
            route = path[len(root) :] if root and path.startswith(root) else path
            if not route.startswith(_HOST_PATHS):
                scope = {**scope, "path": f"{root}/ibr{route}"}
        await self.app(scope, receive, send)
