"""Async search via the outbox, subscriptions and notify, txn status, and the audit chain."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from ibr_protocol import format_timestamp
from ibr_service.core import IbrCore, NotFoundError, audit_verify
from ibr_service.core.samples import enrollment_message, person_beneficiary, search_message
from ibr_service.store_sql.tables import audit_log

from .conftest import SP, StepClock

CALLBACK = "https://sp.example/registry/on-search"


def _envelope(action: str, message: dict[str, Any], message_id: str = "m-1") -> dict[str, Any]:
    header = {
        "version": "1.0.0",
        "message_id": message_id,
        "message_ts": "2024-05-02T10:00:00Z",
        "action": action,
        "sender_id": SP.sender_id,
        "sender_uri": CALLBACK,
        "receiver_id": "IBR",
        "total_count": 1,
        "is_msg_encrypted": False,
    }
    return {"header": header, "message": message}


def test_async_search_becomes_one_callback_in_the_outbox(core: IbrCore) -> None:
    """If this fails, an acknowledged async search never produces its on-search callback."""
    core.enrollment_updates(enrollment_message([person_beneficiary("1")]), caller=SP)
    message = search_message("idtype-value", {"type": "NID", "value": "1"})
    correlation_id = core.accept_async("search", _envelope("search", message), caller=SP)
    with core.store.transaction() as tx:
        assert tx.outbox_jobs_for(correlation_id) == []
        pending = tx.get_transaction(correlation_id)
        assert pending is not None
        assert pending.status == "rcvd"
    assert core.run_pending(10) == 1
    assert core.run_pending(10) == 0
    with core.store.transaction() as tx:
        (job,) = tx.outbox_jobs_for(correlation_id)
        done = tx.get_transaction(correlation_id)
    assert job.kind == "on-search"
    assert job.target_url == CALLBACK
    assert job.dedupe_key == f"{correlation_id}:on-search"
    header, body = job.payload["header"], job.payload["message"]
    assert (header["action"], header["status"], header["receiver_id"]) == (
        "on-search",
        "succ",
        "SP-System",
    )
    assert body["correlation_id"] == correlation_id
    assert (
        body["search_response"][0]["data"]["reg_records"][0]["member"]["member_identifier"][0][
            "identifier_value"
        ]
        == "1"
    )
    assert done is not None
    assert done.status == "succ"
    status = core.txn_status(
        {
            "transaction_id": "T",
            "txnstatus_request": {
                "reference_id": "x",
                "txn_type": "search",
                "attribute_type": "correlation_id",
                "attribute_value": correlation_id,
            },
        },
        caller=SP,
    )
    assert status["txnstatus_response"]["txn_status"]["correlation_id"] == correlation_id


def test_txn_status_of_another_senders_transaction_is_not_found(core: IbrCore) -> None:
    """If this fails, one SP-MIS can read another's results through txn/status."""
    correlation_id = core.accept_async(
        "search",
        _envelope("search", search_message("idtype-value", {"type": "NID", "value": "1"})),
        caller=SP,
    )
    from ibr_service.core import Caller

    with pytest.raises(NotFoundError):
        core.txn_status(
            {
                "transaction_id": "T",
                "txnstatus_request": {
                    "reference_id": "x",
                    "txn_type": "search",
                    "attribute_type": "correlation_id",
                    "attribute_value": correlation_id,
                },
            },
            caller=Caller(sender_id="SP-Other"),
        )


def test_matching_subscribers_are_notified_through_the_outbox(
    core: IbrCore, clock: StepClock
) -> None:
    """If this fails, subscribers miss enrolment or status-change events (or get others')."""
    subscribe = {
        "transaction_id": "T-sub",
        "subscribe_request": [
            {
                "reference_id": "S-1",
                "timestamp": "2024-05-02T10:00:00Z",
                "subscribe_criteria": {
                    "reg_event_type": "enrollement_status_change",
                    "filter_type": "expression",
                    "filter": {
                        "programme_identifier": {"eq": "DCI001"},
                        "enrolment_status": {"eq": "2"},
                    },
                    "notify_record_type": "Beneficiary",
                },
            },
            {
                "reference_id": "S-2",
                "timestamp": "2024-05-02T10:00:00Z",
                "subscribe_criteria": {
                    "reg_event_type": "birth",
                    "filter": {},
                    "notify_record_type": "x",
                },
            },
        ],
    }
    correlation_id = core.accept_async("subscribe", _envelope("subscribe", subscribe), caller=SP)
    core.run_pending(5)
    with core.store.transaction() as tx:
        (job,) = tx.outbox_jobs_for(correlation_id)
    items = job.payload["message"]["subscribe_response"]
    assert [(i["status"], i.get("status_reason_code")) for i in items] == [
        ("succ", None),
        ("rjct", "rjct.notify_types.invalid"),
    ]
    code = items[0]["subscriptions"][0]["code"]

    core.enrollment_updates(
        enrollment_message([person_beneficiary("5"), person_beneficiary("6")]), caller=SP
    )
    clock.advance(60)
    deceased = person_beneficiary("5", status="2", status_change_date="2024-04-30")
    result = core.enrollment_updates(
        enrollment_message([deceased, person_beneficiary("6")]), caller=SP
    )
    with core.store.transaction() as tx:
        notify_jobs = tx.outbox_jobs_for(result["correlation_id"])
    assert [j.kind for j in notify_jobs] == ["notify"]
    event = notify_jobs[0].payload["message"]["notify_event"]
    assert len(event) == 1
    record = event[0]["data"]["reg_records"][0]
    assert record["member"]["member_identifier"][0]["identifier_value"] == "5"
    assert notify_jobs[0].dedupe_key.endswith(code)

    unsubscribe = {
        "transaction_id": "T-u",
        "timestamp": "2024-06-02T00:00:00Z",
        "subscription_codes": [code, "nope"],
    }
    cid = core.accept_async("unsubscribe", _envelope("unsubscribe", unsubscribe, "m-2"), caller=SP)
    core.run_pending(5)
    with core.store.transaction() as tx:
        (unsub_job,) = tx.outbox_jobs_for(cid)
        assert tx.active_subscriptions("enrollement_status_change") == []
    body = unsub_job.payload["message"]
    assert body["subscription_status"] == [{"code": code, "status": "unsubscribe"}]
    assert body["status_reason_code"] == "rjct.subscription_code.invalid"


def test_audit_chain_verifies_and_detects_an_edited_entry(core: IbrCore) -> None:
    """If this fails, tampering with the audit log goes unnoticed."""
    core.enrollment_updates(enrollment_message([person_beneficiary("1")]), caller=SP)
    core.sync_search(search_message("idtype-value", {"type": "NID", "value": "1"}), caller=SP)
    core.enrolled(
        {
            "transaction_id": "T",
            "enrolled_criteria": {
                "query_type": "idtype-value",
                "query": {"type": "NID", "value": "1"},
            },
        },
        caller=SP,
    )
    result = audit_verify(core.store)
    assert result.ok
    assert result.entries == 3
    with core.store.transaction() as tx:
        actions = [e.action for e in tx.iter_audit()]
        assert actions == ["enrolment.write", "search.read", "enrolled.check"]
        tx.connection.execute(
            update(audit_log).where(audit_log.c.seq == 2).values(actor="someone-else")
        )  # type: ignore[attr-defined]
    broken = audit_verify(core.store)
    assert not broken.ok
    assert broken.first_bad_seq == 2


def test_a_chunk_that_fails_is_rolled_back_and_done_one_at_a_time(
    core: IbrCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, run_pending's shared unit of work loses (or doubles) the callbacks of the
    requests processed beside one that failed: they must all roll back to `rcvd`, then each
    be processed once."""
    core.enrollment_updates(enrollment_message([person_beneficiary("1")]), caller=SP)
    message = search_message("idtype-value", {"type": "NID", "value": "1"})
    ids = [
        core.accept_async("search", _envelope("search", message, f"m-{i}"), caller=SP)
        for i in range(5)
    ]
    real_process = core._process
    failures = []

    def fail_the_third_once(tx: Any, txn: Any) -> None:
        if txn.correlation_id == ids[2] and not failures:
            failures.append(txn.correlation_id)
            raise RuntimeError("database blip")
        real_process(tx, txn)

    monkeypatch.setattr(core, "_process", fail_the_third_once)
    assert core.run_pending(10, chunk=5) == 5
    assert failures == [ids[2]]
    with core.store.transaction() as tx:
        jobs = {cid: tx.outbox_jobs_for(cid) for cid in ids}
        statuses = {cid: tx.get_transaction(cid).status for cid in ids}  # type: ignore[union-attr]
    assert {cid: len(found) for cid, found in jobs.items()} == dict.fromkeys(ids, 1)
    assert set(statuses.values()) == {"succ"}
    assert audit_verify(core.store).ok


def test_the_acceptance_is_audited_when_processed_not_at_the_ack(core: IbrCore) -> None:
    """If this fails, the ACK of an async request waits for the audit chain's lock again, or
    an accepted request leaves no audit entry of its acceptance once processed."""
    core.enrollment_updates(enrollment_message([person_beneficiary("1")]), caller=SP)
    message = search_message("idtype-value", {"type": "NID", "value": "1"})
    with core.store.transaction() as tx:
        head = tx.last_audit_entry()
    correlation_id = core.accept_async("search", _envelope("search", message, "m-a"), caller=SP)
    with core.store.transaction() as tx:
        assert tx.last_audit_entry() == head
        accepted = tx.get_transaction(correlation_id)
    assert accepted is not None
    core.run_pending(1)
    with core.store.transaction() as tx:
        entries = [e for e in tx.iter_audit() if e.subject == correlation_id]
    assert [e.action for e in entries] == ["async.search.accepted", "search.read"]
    assert entries[0].detail == {
        "message_id": "m-a",
        "accepted_at": format_timestamp(accepted.created_at),
    }
    assert audit_verify(core.store).ok
