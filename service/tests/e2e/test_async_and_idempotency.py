"""Async search end to end (callback reaches the SP-MIS, retried on failure, delivered once) and
idempotent re-sending of a batch, with real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ibr_protocol import Jwks, verify_envelope
from ibr_service.api.loopback import CallbackRecorder
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import enrollment_message, search_message

from .conftest import fast_settings

DATA_TABLES_IGNORED = frozenset({"audit_log", "seen_messages"})


@pytest.fixture
def flaky_ibr(tmp_path: Path) -> Iterator[Sandbox]:
    """An IBR whose SP-MIS receiver answers 503 twice before accepting."""
    with sandbox(
        fast_settings(f"sqlite:///{tmp_path}/ibr.db"), receiver=CallbackRecorder(fail_first=2)
    ) as box:
        yield box


def test_async_search_callback_reaches_receiver_once_after_retries(flaky_ibr: Sandbox) -> None:
    """If this fails, async results are lost, duplicated, unsigned or sent to the wrong place."""
    box = flaky_ibr
    box.spmis.send(
        "/registry/sync/enrollment/updates", "notify", enrollment_message(builtin_beneficiaries())
    )
    message = search_message("NID", "1000000002")
    ack = box.spmis.send(
        "/registry/search", "search", message, sender_uri=f"{box.receiver_url}/registry/on-search"
    ).json()["message"]
    assert ack["ack_status"] == "ACK"
    (path, callback), *rest = box.receiver.wait_for(1, timeout=15)
    assert rest == []
    assert path == "/registry/on-search"
    assert callback["header"]["action"] == "on-search"
    assert callback["message"]["correlation_id"] == ack["correlation_id"]
    assert callback["message"]["transaction_id"] == message["transaction_id"]
    records = callback["message"]["search_response"][0]["data"]["reg_records"]
    assert records[0]["member"]["member_identifier"][0]["identifier_value"] == "1000000002"
    keys = Jwks.from_dict(box.spmis.http.get(f"{box.url}/.well-known/jwks.json").json())
    verify_envelope(callback, keys.get)
    # Two refusals were retried; after the success nothing more arrives.
    assert box.receiver.wait_for(2, timeout=1.0) == box.receiver.received[:1]
    with box.host.store.transaction() as tx:
        jobs = tx.outbox_jobs_for(ack["correlation_id"])
    # Three attempts: two refused (503), the third delivered.
    assert [(job.status, job.attempts) for job in jobs] == [("delivered", 3)]


def test_resending_a_batch_changes_nothing(flaky_ibr: Sandbox) -> None:
    """If this fails, an SP-MIS retry duplicates enrolments, benefits or status history."""
    box = flaky_ibr
    batch = enrollment_message(builtin_beneficiaries())
    first = box.spmis.send("/registry/sync/enrollment/updates", "notify", batch).json()
    assert {item["status"] for item in first["message"]["enrolled_response"]} == {"succ"}
    with box.host.store.transaction() as tx:
        before = {k: v for k, v in tx.count_rows().items() if k not in DATA_TABLES_IGNORED}
    second = box.spmis.send("/registry/sync/enrollment/updates", "notify", batch).json()
    assert {item["status"] for item in second["message"]["enrolled_response"]} == {"succ"}
    with box.host.store.transaction() as tx:
        after = {k: v for k, v in tx.count_rows().items() if k not in DATA_TABLES_IGNORED}
    # The re-send is a new request (a transactions row); every registry table is unchanged.
    assert after.pop("transactions") == before.pop("transactions") + 1
    after.pop("transaction_references", None)
    before.pop("transaction_references", None)
    assert after == before
