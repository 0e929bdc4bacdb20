"""A notify that is retried late still passes the subscriber's time window and replay checks:
every delivery attempt is a new message (new ``message_id`` and ``message_ts``, new signature)
with the same business identity (``transaction_id``, event ``reference_id``). IBR-CB-003 and
security profile §5.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import ibr_protocol as proto
from ibr_service.core import CoreSettings, IbrCore
from ibr_service.core.records import OutboxJob
from ibr_service.outbox import OutboxDispatcher
from ibr_service.security.clients import register_client
from ibr_service.security.keys import load_or_create_keys
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import fast_settings

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TARGET = "https://pension.example/registry/notify"


class Clock:
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
        sql, sender_id="pension-mis", now=START, allowed_callback_hosts=["pension.example:443"]
    )
    yield sql
    sql.engine.dispose()


def _enqueue_notify(store: SqlStore) -> None:
    message = {
        "transaction_id": "txn-1",
        "notify_event": [
            {
                "reference_id": "sub-1:1",
                "timestamp": proto.format_timestamp(START),
                "subscription_code": "sub-1",
                "data": {
                    "reg_event_type": "enrollement_status_change",
                    "reg_record_type": "Beneficiary",
                    "reg_records": [{"assistance_unit": "1"}],
                },
            }
        ],
    }
    payload = proto.build_callback(
        action="notify",
        message=message,
        status="succ",
        sender_id="IBR",
        receiver_id="pension-mis",
        now=START,
    )
    job = OutboxJob(
        job_id="job-1",
        dedupe_key="txn-1:notify:sub-1",
        correlation_id="txn-1",
        kind="notify",
        sender_id="pension-mis",
        target_url=TARGET,
        payload=payload,
        created_at=START,
        next_attempt_at=START,
    )
    with store.transaction() as tx:
        assert tx.enqueue_outbox(job)


def test_each_attempt_is_a_fresh_message_that_passes_the_time_window(store: SqlStore) -> None:
    """If this fails, a notify retried more than 300 s after the event is refused by every
    receiver that applies the ±300 s window (or as a replayed message_id), and is lost."""
    bodies: list[dict[str, Any]] = []
    keys = load_or_create_keys(store, now=START)
    jwks = proto.Jwks.from_dict(keys.jwks())
    clock = Clock()

    def subscriber(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        proto.verify_envelope(body, jwks.get)
        try:
            proto.check_message_ts(body["header"]["message_ts"], now=clock.now)
        except proto.TimestampError as exc:
            return httpx.Response(400, json=proto.ack_for_error(exc))
        if len(bodies) == 1:
            return httpx.Response(503)  # the first attempt is lost
        return httpx.Response(200, json=proto.ack("txn-1"))

    _enqueue_notify(store)
    http = httpx.AsyncClient(transport=httpx.MockTransport(subscriber))
    dispatcher = OutboxDispatcher(
        store,
        IbrCore(store, clock=clock, settings=CoreSettings()),
        keys=keys,
        settings=fast_settings("sqlite://", outbox_backoff_base_seconds=600),
        clock=clock,
        http=http,
        resolver=lambda host: ["93.184.216.34"],
        rng=lambda: 1.0,
    )
    first = asyncio.run(dispatcher.run_once(http))
    clock.now = START + timedelta(hours=1)  # a late retry, far outside the 300 s window
    second = asyncio.run(dispatcher.run_once(http))
    assert (first.retried, second.delivered) == (["job-1"], ["job-1"])
    headers = [body["header"] for body in bodies]
    assert headers[0]["message_id"] != headers[1]["message_id"]
    assert proto.parse_timestamp(headers[1]["message_ts"]) == clock.now
    messages = [body["message"] for body in bodies]
    assert messages[0] == messages[1], "the business content of a retry must not change"
