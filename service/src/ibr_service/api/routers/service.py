"""Service endpoints: our OpenAPI (from spec/), the JWKS, health, readiness and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ibr_protocol import load_openapi
from ibr_service.api.dependencies import KeysDep, StoreDep
from ibr_service.core.store import Store

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
def openapi() -> dict[str, Any]:
    """The OpenAPI document of spec/openapi.yaml (not one generated from the routes)."""
    return load_openapi()


@router.get("/.well-known/jwks.json", operation_id="get_jwks")
def jwks(keys: KeysDep) -> JSONResponse:
    """Public keys that verify the IBR's signatures on responses and callbacks."""
    return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=3600"})


@router.get("/health", operation_id="get_health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus text format: requests, refusals, outbox and ingest counters, latencies.

    Not authenticated, like /health: restrict it to the monitoring network at the proxy.
    """
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/ready", operation_id="get_ready")
async def ready(store: StoreDep) -> JSONResponse:
    """Readiness: the database answers a query."""
    try:
        await run_in_threadpool(_ping, store)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ready"})


def _ping(store: Store) -> None:
    # A point lookup on an indexed key: cheap at any size, and it needs the schema in place.
    with store.transaction() as tx:
        tx.get_client("__readiness_probe__")
