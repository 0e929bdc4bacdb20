"""The outbox dispatcher against a real SQLite store, with a fake HTTP transport (no server):
delivery, lease expiry after a crash, retries until dead, and the send-time SSRF re-check."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ibr_protocol import Jwks, build_callback, verify_envelope
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.records import OutboxJob
from ibr_service.outbox import OutboxDispatcher
from ibr_service.security.clients import register_client
from ibr_service.security.keys import load_or_create_keys
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import fast_settings

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path}/outbox.db"
    upgrade(url)
    sql = SqlStore.from_url(url)
    register_client(
        sql,
        sender_id="sp",
        now=START,
        allowed_callback_hosts=["spmis.example.org:443", "10.9.9.9:80"],
    )
    yield sql
    sql.engine.dispose()


def _enqueue(
    store: SqlStore,
    url: str = "https://spmis.example.org/registry/on-search",
    correlation_id: str = "c1",
    job_id: str = "job-1",
) -> str:
    payload = build_callback(
        action="on-search",
        message={"transaction_id": "t1", "correlation_id": correlation_id, "search_response": []},
        status="succ",
        sender_id="IBR",
        receiver_id="sp",
        now=START,
    )
    job = OutboxJob(
        job_id=job_id,
        dedupe_key=f"{correlation_id}:on-search",
        correlation_id=correlation_id,
        kind="on-search",
        sender_id="sp",
        target_url=url,
        payload=payload,
        created_at=START,
        next_attempt_at=START,
    )
    with store.transaction() as tx:
        assert tx.enqueue_outbox(job)
    return job.job_id


def _dispatcher(
    store: SqlStore, clock: Clock, handler: httpx.MockTransport, **settings: object
) -> tuple[OutboxDispatcher, httpx.AsyncClient]:
    keys = load_or_create_keys(store, now=START)
    http = httpx.AsyncClient(transport=handler)
    core = IbrCore(store, clock=clock, settings=CoreSettings())
    dispatcher = OutboxDispatcher(
        store,
        core,
        keys=keys,
        settings=fast_settings("sqlite://", **settings),  # type: ignore[arg-type]
        clock=clock,
        http=http,
        resolver=lambda host: ["93.184.216.34"],
        rng=lambda: 1.0,
    )
    return dispatcher, http


def _job(store: SqlStore, job_id: str) -> OutboxJob:
    with store.transaction() as tx:
        job = tx.get_outbox_job(job_id)
    assert job is not None
    return job


def test_delivers_a_signed_callback_once(store: SqlStore) -> None:
    """If this fails, callbacks go out unsigned, to the wrong URL, or more than once."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message": {"ack_status": "ACK"}})

    job_id = _enqueue(store)
    clock = Clock()
    dispatcher, http = _dispatcher(store, clock, httpx.MockTransport(handler))
    first = asyncio.run(dispatcher.run_once(http))
    second = asyncio.run(dispatcher.run_once(http))
    assert first.delivered == [job_id]
    assert second.delivered == []
    assert [str(r.url) for r in seen] == ["https://spmis.example.org/registry/on-search"]
    body = json.loads(seen[0].content)
    keys = load_or_create_keys(store, now=START)
    verify_envelope(body, Jwks.from_dict(keys.jwks()).get)
    assert _job(store, job_id).status == "delivered"


def test_job_of_a_crashed_worker_is_retried_after_its_lease(store: SqlStore) -> None:
    """If this fails, a worker that dies mid-delivery loses the callback for good."""
    job_id = _enqueue(store)
    clock = Clock()
    with store.transaction() as tx:  # a worker claims the job, then dies before sending
        claimed = tx.claim_outbox_jobs(
            now=START, limit=5, lease_until=START + timedelta(seconds=30)
        )
    assert [job.job_id for job in claimed] == [job_id]
    ok = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    dispatcher, http = _dispatcher(store, clock, ok)
    assert asyncio.run(dispatcher.run_once(http)).delivered == []  # still leased
    clock.now = START + timedelta(seconds=31)
    assert asyncio.run(dispatcher.run_once(http)).delivered == [job_id]


def test_failures_back_off_then_the_job_dies(store: SqlStore) -> None:
    """If this fails, a down receiver is hammered, or a dead one is retried forever."""
    job_id = _enqueue(store)
    clock = Clock()
    down = httpx.MockTransport(lambda request: httpx.Response(503))
    dispatcher, http = _dispatcher(store, clock, down, outbox_max_attempts=3)
    report = asyncio.run(dispatcher.run_once(http))
    assert report.retried == [job_id]
    job = _job(store, job_id)
    assert job.next_attempt_at == START + timedelta(seconds=0.1)  # base 0.1 s, rng 1.0
    assert asyncio.run(dispatcher.run_once(http)).retried == []  # not due yet
    clock.now = job.next_attempt_at
    assert asyncio.run(dispatcher.run_once(http)).retried == [job_id]
    assert _job(store, job_id).next_attempt_at == clock.now + timedelta(seconds=0.2)
    clock.now += timedelta(seconds=0.2)
    assert asyncio.run(dispatcher.run_once(http)).dead == [job_id]
    dead = _job(store, job_id)
    assert dead.status == "dead"
    assert dead.attempts == 3
    assert "HTTP 503" in (dead.last_error or "")


def test_callback_to_a_private_address_is_never_sent(store: SqlStore) -> None:
    """If this fails, a job whose target became private (or was stored unchecked) is POSTed."""
    job_id = _enqueue(store, url="http://10.9.9.9/registry/on-search")
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    dispatcher, http = _dispatcher(store, Clock(), httpx.MockTransport(handler))
    assert asyncio.run(dispatcher.run_once(http)).dead == [job_id]
    assert sent == []
    assert "non-public address" in (_job(store, job_id).last_error or "")


@pytest.mark.parametrize(("port", "delivered"), [(6379, False), (8443, False), (443, True)])
def test_a_stored_bare_host_is_checked_with_its_port_before_delivery(
    store: SqlStore, caplog: pytest.LogCaptureFixture, port: int, delivered: bool
) -> None:
    """If this fails, a bare host stored before targets needed a port still lets the outbox POST
    to any port of it (a local Redis), or the operator's log does not say how to re-register."""
    with store.transaction() as tx:
        client = tx.get_client("sp")
        assert client is not None
        tx.put_client(replace(client, allowed_callback_hosts=frozenset({"spmis.example.org"})))
    job_id = _enqueue(store, url=f"https://spmis.example.org:{port}/registry/on-search")
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"message": {"ack_status": "ACK"}})

    dispatcher, http = _dispatcher(store, Clock(), httpx.MockTransport(handler))
    with caplog.at_level(logging.INFO):
        report = asyncio.run(dispatcher.run_once(http))
    if delivered:
        assert report.delivered == [job_id]
        return
    assert report.dead == [job_id]
    assert sent == []
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "ibr clients callback-targets SENDER_ID --callback-host spmis.example.org:PORT" in logged


def test_one_pass_sends_its_jobs_concurrently_within_the_bound(store: SqlStore) -> None:
    """If this fails, a pass sends its callbacks one after another (throughput bound by one
    round trip), opens more connections than `outbox_concurrency`, or records an outcome on
    the wrong job."""
    job_ids = [_enqueue(store, correlation_id=f"c{i}", job_id=f"job-{i}") for i in range(12)]
    in_flight, most = 0, 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        correlation_id = json.loads(request.content)["message"]["correlation_id"]
        return httpx.Response(503 if correlation_id == "c3" else 200)

    dispatcher, http = _dispatcher(
        store, Clock(), httpx.MockTransport(handler), outbox_concurrency=4
    )
    report = asyncio.run(dispatcher.run_once(http))
    assert most == 4
    assert sorted(report.delivered) == sorted(set(job_ids) - {"job-3"})
    assert report.retried == ["job-3"]
    assert _job(store, "job-3").status == "pending"
    assert {_job(store, j).status for j in job_ids if j != "job-3"} == {"delivered"}


def test_a_pass_claims_no_more_than_it_can_send_within_the_lease(store: SqlStore) -> None:
    """If this fails, a pass claims jobs it cannot send before their lease ends (slow receivers
    at the timeout), so a second dispatcher may claim and send them again meanwhile."""
    for i in range(10):
        _enqueue(store, correlation_id=f"c{i}", job_id=f"job-{i}")
    ok = httpx.MockTransport(lambda request: httpx.Response(200))
    dispatcher, http = _dispatcher(
        store,
        Clock(),
        ok,
        outbox_concurrency=3,
        outbox_lease_seconds=30,
        callback_timeout_seconds=10,
    )
    assert len(asyncio.run(dispatcher.run_once(http)).delivered) == 3  # one round of 3 fits
    assert len(asyncio.run(dispatcher.run_once(http)).delivered) == 3


def test_run_forever_processes_and_delivers_until_stopped(store: SqlStore) -> None:
    """If this fails, the worker loop of the server and of `ibr outbox run` leaves accepted
    requests without their callback, or sends one twice."""
    core = IbrCore(store, clock=lambda: START, settings=CoreSettings())
    header = {"message_id": "m", "action": "search", "sender_uri": "https://spmis.example.org/cb"}
    message = {"transaction_id": "t", "search_request": [{"reference_id": "r"}]}
    ids = [
        core.accept_async(
            "search",
            {"header": {**header, "message_id": f"m-{i}"}, "message": message},
            caller=Caller("sp"),
        )
        for i in range(6)
    ]
    received: list[str] = []
    stop = asyncio.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content)["message"]["correlation_id"])
        if len(received) == len(ids):
            stop.set()
        return httpx.Response(200)

    dispatcher, _ = _dispatcher(store, Clock(), httpx.MockTransport(handler))

    async def run() -> None:
        await asyncio.wait_for(dispatcher.run_forever(stop), timeout=60)

    asyncio.run(run())
    assert sorted(received) == sorted(ids)
