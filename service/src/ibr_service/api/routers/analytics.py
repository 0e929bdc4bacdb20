"""Analytics extension operations (not DCI): coverage, overlaps, transitions and feed quality.

Served under ``/analytics`` with the OpenAPI tag ``analytics (extension)``, apart from the DCI
operations. A bearer token from /oauth2/client/token with the search scope is required, and
every answer is limited to the client's read scope (programmes and areas): what a client may
not search, it may not count either. Statistical tables are under disclosure control (k).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from ibr_service.api.dependencies import ClockDep, CoreDep, StoreDep, TokensDep
from ibr_service.api.inbound import bearer_token
from ibr_service.core.caller import Caller
from ibr_service.security.clients import SCOPE_SEARCH
from ibr_service.security.errors import AuthenticationError

__all__ = ["PREFIX", "TAG", "router"]

PREFIX = "/analytics"
TAG = "analytics (extension)"
router = APIRouter(prefix=PREFIX, tags=[TAG])


def analytics_caller(
    request: Request, store: StoreDep, tokens: TokensDep, clock: ClockDep
) -> Caller:
    """The client of the bearer token, as the core sees it (with its read scope)."""
    access = tokens.validate(bearer_token(request), now=clock())
    access.require_scope(SCOPE_SEARCH)
    with store.transaction() as tx:
        client = tx.get_client(access.client_id)
    if client is None or not client.active:
        raise AuthenticationError(
            "the client of this token is unknown or disabled", reason="err.token.invalid"
        )
    return Caller.from_client(client, access.scopes)


CallerDep = Annotated[Caller, Depends(analytics_caller)]
AsOf = Annotated[dt.date | None, Query(description="snapshot date (default today)")]
K = Annotated[int, Query(ge=1, le=1000, description="suppress cells under k")]


def _answer(build: Callable[[], Any]) -> dict[str, Any]:
    from ibr_service.analytics.errors import AnalyticsError
    from ibr_service.analytics.exports import report_json

    try:
        return report_json(build())
    except AnalyticsError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None


def _engine(store: StoreDep) -> Any:
    engine = getattr(store, "engine", None)
    if engine is None:
        raise HTTPException(status_code=501, detail="analytics need the SQL store")
    return engine


def _frames(store: StoreDep, caller: Caller) -> Any:
    from ibr_service.analytics.of_caller import frames_of_reader

    return frames_of_reader(_engine(store), caller.read)


@router.get("/coverage", operation_id="get_analytics_coverage")
def coverage(
    store: StoreDep,
    caller: CallerDep,
    level: Annotated[int, Query(ge=1, le=4)] = 1,
    period: Annotated[str, Query(pattern="^(month|quarter|year)$")] = "year",
    as_of: AsOf = None,
    k: K = 10,
) -> dict[str, Any]:
    """Beneficiaries, households and benefit value by programme, area, sex, age and period."""
    from ibr_service.analytics.of_caller import snapshot_of_reader
    from ibr_service.analytics.reports import coverage_report

    def build() -> Any:
        frames = _frames(store, caller)  # first: a store without SQL is refused here (501)
        snapshot, source = snapshot_of_reader(_engine(store), caller.read, level, as_of, frames)
        report = coverage_report(
            frames, level=level, period=period, as_of=as_of, k=k, snapshot=snapshot
        )
        report.summary["snapshot_source"] = source
        return report

    return _answer(build)


@router.get("/coverage/snapshot", operation_id="get_analytics_coverage_snapshot")
def coverage_snapshot(
    store: StoreDep,
    caller: CallerDep,
    level: Annotated[int, Query(ge=1, le=4)] = 1,
    as_of: AsOf = None,
    k: K = 10,
) -> dict[str, Any]:
    """Active beneficiaries and households by programme, area, sex and age band: from the
    coverage rollups when fresh and the client may read everything, else counted ad hoc."""
    from ibr_service.analytics.of_caller import snapshot_of_reader
    from ibr_service.analytics.reports import snapshot_report

    def build() -> Any:
        day = as_of or dt.date.today()
        table, source = snapshot_of_reader(_engine(store), caller.read, level, day)
        return snapshot_report(table, source=source, level=level, as_of=day, k=k)

    return _answer(build)


@router.get("/overlaps", operation_id="get_analytics_overlaps")
def overlaps(store: StoreDep, caller: CallerDep) -> dict[str, Any]:
    """Cross-programme overlaps by identity, under the shipped compatibility rules."""
    from ibr_service.analytics.reports import overlaps_report
    from ibr_service.analytics.rules import load_rules

    return _answer(lambda: overlaps_report(_frames(store, caller), load_rules()))


@router.get("/transitions", operation_id="get_analytics_transitions")
def transitions(
    store: StoreDep,
    caller: CallerDep,
    months: Annotated[int, Query(ge=1, le=120)] = 6,
    as_of: AsOf = None,
    k: K = 10,
) -> dict[str, Any]:
    """Exits from each programme and where people went within N months."""
    from ibr_service.analytics.reports import transitions_report

    return _answer(
        lambda: transitions_report(_frames(store, caller), months=months, as_of=as_of, k=k)
    )


@router.get("/quality", operation_id="get_analytics_quality")
def quality(
    store: StoreDep, core: CoreDep, caller: CallerDep, as_of: AsOf = None
) -> dict[str, Any]:
    """Completeness, identifier validity (per checked identifier type of the deployment) and
    staleness per SP-MIS feed; the client's own rejection rates and reasons (other senders'
    answers are theirs)."""
    from ibr_service.analytics.feed_log import feed_log_of_caller
    from ibr_service.analytics.reports import quality_report

    types = core.settings.identifier_types

    def build() -> Any:
        log = feed_log_of_caller(store.engine, caller)  # type: ignore[attr-defined]
        frames = _frames(store, caller)
        return quality_report(frames, as_of=as_of, log=log, identifier_types=types)

    return _answer(build)
