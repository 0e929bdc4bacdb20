"""The outbox presents a bearer token on callbacks to an SP-MIS that asks for one (IBR-SEC-004),
against a real token endpoint and callback receiver on loopback (a stand-in SP-MIS)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import ibr_protocol as proto
from ibr_service.api.loopback import serve_in_thread
from ibr_service.core import CoreSettings, IbrCore
from ibr_service.core.records import OutboxJob
from ibr_service.outbox import OutboxDispatcher
from ibr_service.security.clients import register_client, set_callback_auth
from ibr_service.security.keys import load_or_create_keys
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import fast_settings

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "ibr-secret-at-the-spmis"


@dataclass
class SpMisStandIn:
    """A token endpoint and a callback endpoint that demands the tokens it issued."""

    token_requests: list[dict[str, str]] = field(default_factory=list)
    callbacks: list[str | None] = field(default_factory=list)
    """The Authorization header of every callback, accepted or not."""
    valid: set[str] = field(default_factory=set)
    token_failures: int = 0
    """Answer the next this-many token requests with HTTP 503."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth2/client/token", self._token, methods=["POST"]),
                Route("/registry/{action}", self._callback, methods=["POST"]),
            ]
        )

    async def _token(self, request: Request) -> JSONResponse:
        form = {key: str(value) for key, value in (await request.form()).items()}
        with self._lock:
            self.token_requests.append(form)
            if self.token_failures > 0:
                self.token_failures -= 1
                return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
            if form.get("client_secret") != SECRET:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            token = f"tok-{len(self.token_requests)}"
            self.valid.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": 600},
            headers={"Cache-Control": "no-store"},
        )

    async def _callback(self, request: Request) -> JSONResponse:
        authorization = request.headers.get("authorization")
        with self._lock:
            self.callbacks.append(authorization)
            scheme, _, token = (authorization or "").partition(" ")
            if scheme != "Bearer" or token not in self.valid:
                return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"message": {"ack_status": "ACK"}})

    def revoke_all(self) -> None:
        with self._lock:
            self.valid.clear()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def spmis() -> Iterator[tuple[SpMisStandIn, str]]:
    stand_in = SpMisStandIn()
    with serve_in_thread(stand_in.app) as url:
        yield stand_in, url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path}/outbox.db"
    upgrade(url)
    sql = SqlStore.from_url(url)
    yield sql
    sql.engine.dispose()


def _register(
    store: SqlStore, url: str, token_url: str | None, client_id: str | None = None
) -> None:
    register_client(
        store,
        sender_id="sp",
        now=START,
        allowed_callback_hosts=[url.removeprefix("http://")],  # the stand-in's host:port
        allow_private_callbacks=True,
        callback_token_url=token_url,
        callback_client_id=client_id,
        callback_client_secret=SECRET if token_url else None,
    )


def _enqueue(store: SqlStore, base_url: str, n: int) -> str:
    payload = proto.build_callback(
        action="on-search",
        message={"transaction_id": f"t{n}", "correlation_id": f"c{n}", "search_response": []},
        status="succ",
        sender_id="IBR",
        receiver_id="sp",
        now=START,
    )
    job = OutboxJob(
        job_id=f"job-{n}",
        dedupe_key=f"c{n}:on-search",
        correlation_id=f"c{n}",
        kind="on-search",
        sender_id="sp",
        target_url=f"{base_url}/registry/on-search",
        payload=payload,
        created_at=START,
        next_attempt_at=START,
    )
    with store.transaction() as tx:
        assert tx.enqueue_outbox(job)
    return job.job_id


def _dispatcher(store: SqlStore, clock: Clock, **settings: object) -> OutboxDispatcher:
    return OutboxDispatcher(
        store,
        IbrCore(store, clock=clock, settings=CoreSettings()),
        keys=load_or_create_keys(store, now=START),
        settings=fast_settings("sqlite://", **settings),
        clock=clock,
        rng=lambda: 1.0,
    )


def _job(store: SqlStore, job_id: str) -> OutboxJob:
    with store.transaction() as tx:
        job = tx.get_outbox_job(job_id)
    assert job is not None
    return job


def test_bearer_token_is_sent_and_reused(store: SqlStore, spmis: tuple[SpMisStandIn, str]) -> None:
    """If this fails, an SP-MIS that requires tokens refuses every callback, or the IBR asks
    for a new token for every callback."""
    stand_in, url = spmis
    _register(store, url, f"{url}/oauth2/client/token")
    dispatcher = _dispatcher(store, Clock(), receiver_id="IBR-KE")
    first_pass = [_enqueue(store, url, 1), _enqueue(store, url, 2)]
    assert sorted(asyncio.run(dispatcher.run_once()).delivered) == first_pass
    third = _enqueue(store, url, 3)
    assert asyncio.run(dispatcher.run_once()).delivered == [third]
    assert stand_in.callbacks == ["Bearer tok-1"] * 3
    assert stand_in.token_requests == [
        {"grant_type": "client_credentials", "client_id": "IBR-KE", "client_secret": SECRET}
    ]


def test_configured_client_id_is_presented(
    store: SqlStore, spmis: tuple[SpMisStandIn, str]
) -> None:
    """If this fails, an SP-MIS that registered the IBR under another id cannot be served."""
    stand_in, url = spmis
    _register(store, url, f"{url}/oauth2/client/token", client_id="national-ibr")
    job_id = _enqueue(store, url, 1)
    assert asyncio.run(_dispatcher(store, Clock()).run_once()).delivered == [job_id]
    assert [form["client_id"] for form in stand_in.token_requests] == ["national-ibr"]


def test_token_is_refreshed_after_a_401(store: SqlStore, spmis: tuple[SpMisStandIn, str]) -> None:
    """If this fails, one revoked token (SP-MIS restart, key rotation) stops callbacks for good."""
    stand_in, url = spmis
    _register(store, url, f"{url}/oauth2/client/token")
    clock = Clock()
    dispatcher = _dispatcher(store, clock)
    assert asyncio.run(dispatcher.run_once()).idle
    first = _enqueue(store, url, 1)
    assert asyncio.run(dispatcher.run_once()).delivered == [first]
    stand_in.revoke_all()
    second = _enqueue(store, url, 2)
    assert asyncio.run(dispatcher.run_once()).retried == [second]
    assert "HTTP 401" in (_job(store, second).last_error or "")
    clock.now = _job(store, second).next_attempt_at
    assert asyncio.run(dispatcher.run_once()).delivered == [second]
    assert stand_in.callbacks == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert len(stand_in.token_requests) == 2


def test_token_endpoint_failure_is_a_retried_attempt(
    store: SqlStore, spmis: tuple[SpMisStandIn, str], caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, a token endpoint blip loses callbacks, sends them without a token, or
    leaks the IBR's secret into the job's error or the log."""
    stand_in, url = spmis
    stand_in.token_failures = 1
    _register(store, url, f"{url}/oauth2/client/token")
    clock = Clock()
    dispatcher = _dispatcher(store, clock)
    job_id = _enqueue(store, url, 1)
    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(dispatcher.run_once()).retried == [job_id]
    error = _job(store, job_id).last_error or ""
    assert "no callback token" in error
    assert "HTTP 503" in error
    assert stand_in.callbacks == []
    assert SECRET not in error
    assert SECRET not in caplog.text
    clock.now = _job(store, job_id).next_attempt_at
    assert asyncio.run(dispatcher.run_once()).delivered == [job_id]
    assert stand_in.callbacks == ["Bearer tok-2"]


def test_refused_credentials_are_reported_without_the_secret(
    store: SqlStore, spmis: tuple[SpMisStandIn, str], caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, an operator cannot tell that the IBR's credentials at the SP-MIS are
    wrong, or the wrong secret ends up in the database's error column or the log."""
    stand_in, url = spmis
    _register(store, url, f"{url}/oauth2/client/token")
    set_callback_auth(
        store,
        "sp",
        token_url=f"{url}/oauth2/client/token",
        client_secret="not-the-right-one",
    )
    job_id = _enqueue(store, url, 1)
    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(_dispatcher(store, Clock()).run_once()).retried == [job_id]
    error = _job(store, job_id).last_error or ""
    assert "refused client_id 'IBR'" in error
    assert "not-the-right-one" not in error + caplog.text
    assert stand_in.callbacks == []


def test_no_authorization_header_without_callback_auth(
    store: SqlStore, spmis: tuple[SpMisStandIn, str]
) -> None:
    """If this fails, clients registered without a token endpoint get a header they never
    asked for, or the IBR calls a token endpoint nobody configured."""
    stand_in, url = spmis
    stand_in.valid.add("unused")
    _register(store, url, None)
    job_id = _enqueue(store, url, 1)
    assert asyncio.run(_dispatcher(store, Clock()).run_once()).retried == [job_id]
    assert stand_in.callbacks == [None]
    assert stand_in.token_requests == []


def test_token_url_must_pass_the_callback_host_check(
    store: SqlStore, spmis: tuple[SpMisStandIn, str]
) -> None:
    """If this fails, a client's token URL can make the IBR POST its credentials to any host
    (SSRF), bypassing the allowed callback hosts."""
    stand_in, url = spmis
    _register(store, url, "http://169.254.169.254/oauth2/client/token")
    job_id = _enqueue(store, url, 1)
    assert asyncio.run(_dispatcher(store, Clock()).run_once()).dead == [job_id]
    error = _job(store, job_id).last_error or ""
    assert error.startswith("callback token URL:")
    assert "not among the client's allowed callback hosts" in error
    assert stand_in.callbacks == []
    assert stand_in.token_requests == []
