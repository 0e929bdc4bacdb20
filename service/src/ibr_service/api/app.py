"""The standalone app: wires a store, the core, keys and tokens into the shared routers.

    host = build_host(Settings())                # SQL store from IBR_DATABASE_URL
    app = create_app(host)                       # serve with uvicorn (see `ibr serve`)

Another host (the Odoo add-on) calls ``include_ibr_routers`` on its own app and fills the
placeholders of ``ibr_service.api.dependencies`` with its own store and settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from fastapi import APIRouter, Depends, FastAPI

from ibr_protocol.clock import utc_now
from ibr_protocol.tokens import TokenService
from ibr_service.api import dependencies as deps
from ibr_service.api.errors import install_error_handlers
from ibr_service.api.middleware import BodySizeLimit, RequestMetrics
from ibr_service.api.routers import (
    analytics,
    enrolled,
    enrollment,
    oauth,
    search,
    service,
    subscriptions,
    txn_status,
)
from ibr_service.api.throttling import check_address_rate
from ibr_service.core import IbrCore
from ibr_service.core.store import Store
from ibr_service.outbox import OutboxDispatcher
from ibr_service.security.keys import IbrKeys, load_or_create_keys
from ibr_service.security.throttle import Throttles
from ibr_service.settings import Settings

__all__ = ["REGISTRY_PREFIXES", "Host", "build_host", "create_app", "include_ibr_routers"]

_log = logging.getLogger(__name__)

REGISTRY_PREFIXES: tuple[str, ...] = ("/registry", "/ibr/registry", "/ibr")
"""Every IBR-side operation is served under each: `/registry/...` (DCI), `/ibr/registry/...`
(the second server of spec/openapi.yaml) and `/ibr/...` (DCI's mock and compliance kit)."""


@dataclass(frozen=True)
class Host:
    """Everything the routers need, built once per process."""

    settings: Settings
    store: Store
    core: IbrCore
    keys: IbrKeys
    tokens: TokenService
    clock: Callable[[], datetime]
    throttles: Throttles = field(default_factory=Throttles.unlimited)


def build_host(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Host:
    """Open the store (SQL from ``settings.database_url`` unless given) and load the keys.

    The database must be migrated (``ibr db upgrade``) before this is called.
    """
    from ibr_service.store_sql import SqlStore

    if store is None:
        store = SqlStore.from_url(settings.database_url, **settings.engine_options())
    checks = settings.batch_checks() if isinstance(store, SqlStore) else []
    core = IbrCore(
        store,
        clock=clock,
        settings=settings.core_settings(),
        batch_checks=checks,
        batch_read_audits=isinstance(store, SqlStore),
    )
    keys = load_or_create_keys(store, now=clock())
    tokens = TokenService(
        private_jwk=keys.token_key,
        issuer=settings.receiver_id,
        lifetime_seconds=settings.token_lifetime_seconds,
    )
    return Host(
        settings=settings,
        store=store,
        core=core,
        keys=keys,
        tokens=tokens,
        clock=clock,
        throttles=Throttles.from_settings(settings),
    )


def include_ibr_routers(app: FastAPI, *, base_path: str = "") -> None:
    """Mount every route under ``base_path``: operations under /registry and /ibr."""
    registry = APIRouter()
    for module in (enrollment, enrolled, search, txn_status, subscriptions):
        registry.include_router(module.router)
    throttled = [Depends(check_address_rate)]
    for prefix in REGISTRY_PREFIXES:
        app.include_router(registry, prefix=f"{base_path}{prefix}", dependencies=throttled)
    app.include_router(oauth.router, prefix=base_path, dependencies=throttled)
    app.include_router(service.router, prefix=base_path)
    app.include_router(analytics.router, prefix=base_path)  # extension, under /analytics
    install_error_handlers(app)


def create_app(host: Host, *, callback_http: httpx.AsyncClient | None = None) -> FastAPI:
    """The FastAPI app of ``host``; runs the outbox worker in the background when configured."""
    settings = host.settings
    if not settings.strict_signatures:
        _log.critical(
            "IBR_STRICT_SIGNATURES is off: UNSIGNED requests are accepted. "
            "Never run a production IBR like this."
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker: asyncio.Task[None] | None = None
        if settings.run_outbox:
            dispatcher = OutboxDispatcher(
                host.store,
                host.core,
                keys=host.keys,
                settings=settings,
                clock=host.clock,
                http=callback_http,
            )
            worker = asyncio.create_task(dispatcher.run_forever(stop), name="ibr-outbox")
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker

    app = FastAPI(
        title="Integrated Beneficiary Registry",
        lifespan=lifespan,
        # Our OpenAPI is spec/openapi.yaml, served by the service router; FastAPI's is off.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    include_ibr_routers(app, base_path=settings.base_path)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestMetrics)
    deps.provide(
        app,
        settings=settings,
        store=host.store,
        core=host.core,
        keys=host.keys,
        tokens=host.tokens,
        clock=host.clock,
        throttles=host.throttles,
    )
    return app
