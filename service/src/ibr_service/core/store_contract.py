"""The store contract: plain functions that any `Store` implementation must pass.

Each check takes a *fresh, empty, migrated* store and raises AssertionError on a violation. They
need no pytest, so the SQL store runs them under pytest (service/tests/store) and the Odoo add-on
can run them under Odoo's test runner with an `OdooStore`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ibr_service.core.audit import append_audit
from ibr_service.core.caller import Caller
from ibr_service.core.ingest import updates_from_beneficiary
from ibr_service.core.query import And, Attribute, Comparison, IdentifierIs, Operator, SortKey
from ibr_service.core.records import (
    ClientRecord,
    EnrolmentUpdate,
    JsonDict,
    OutboxJob,
    SubscriptionRecord,
    TransactionRecord,
)
from ibr_service.core.samples import person_beneficiary
from ibr_service.core.store import Store

__all__ = ["CONTRACT_CHECKS", "build_updates"]

T0 = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
CALLER = Caller(sender_id="SP-Contract")


def build_updates(*beneficiaries: JsonDict, now: datetime = T0) -> list[EnrolmentUpdate]:
    """The EnrolmentUpdates of canonical Beneficiary records (as the core builds them)."""
    out: list[EnrolmentUpdate] = []
    for i, b in enumerate(beneficiaries):
        out.extend(
            updates_from_beneficiary(
                b, caller=CALLER, now=now, national_id_types=("NID",), field=f"b[{i}]"
            )
        )
    return out


def check_apply_then_resend_changes_nothing(store: Store) -> None:
    updates = build_updates(person_beneficiary("100"), person_beneficiary("101", programme="P2"))
    with store.transaction() as tx:
        first = tx.apply_enrolment_updates(updates)
    assert [o.result for o in first] == ["created", "created"]
    with store.transaction() as tx:
        counts = tx.count_rows()
        again = tx.apply_enrolment_updates(build_updates(person_beneficiary("100")))
        assert tx.count_rows() == counts, "a re-sent identical item wrote rows"
    assert [o.result for o in again] == ["unchanged"]
    assert counts["subjects"] == 2
    assert counts["enrolments"] == 2
    assert counts["benefits"] == 2


def check_status_change_is_recorded_with_history(store: Store) -> None:
    with store.transaction() as tx:
        tx.apply_enrolment_updates(build_updates(person_beneficiary("200")))
    deceased = person_beneficiary("200", status="2", status_change_date="2024-06-01")
    with store.transaction() as tx:
        (outcome,) = tx.apply_enrolment_updates(build_updates(deceased))
        history = tx.status_history("p:NID:200|DCI001")
    assert (outcome.result, outcome.previous_status, outcome.new_status) == ("updated", "1", "2")
    assert [h.enrolment_status for h in history] == ["1", "2"]
    assert history[1].status_change_date is not None
    assert history[1].status_change_date.isoformat() == "2024-06-01"


def check_exception_rolls_back_everything(store: Store) -> None:
    class BoomError(Exception):
        pass

    try:
        with store.transaction() as tx:
            tx.apply_enrolment_updates(build_updates(person_beneficiary("300")))
            raise BoomError
    except BoomError:
        pass
    with store.transaction() as tx:
        counts = tx.count_rows()
    assert all(n == 0 for n in counts.values()), f"rows left after rollback: {counts}"


def check_search_pages_sorts_and_counts(store: Store) -> None:
    people = [person_beneficiary(f"4{i:02d}", surname=f"S{i:02d}") for i in range(25)]
    with store.transaction() as tx:
        tx.apply_enrolment_updates(build_updates(*people))
        query = Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, "DCI001")
        sort = [SortKey(Attribute.SURNAME, descending=True)]
        page1, total = tx.search_subjects(query, kind="person", sort=sort, offset=0, limit=10)
        page3, total3 = tx.search_subjects(query, kind="person", sort=sort, offset=20, limit=10)
        none, zero = tx.search_subjects(query, kind="group", sort=sort, offset=0, limit=10)
        loaded = tx.load_beneficiaries(page1[:2])
    assert total == total3 == 25
    assert len(page1) == 10
    assert len(page3) == 5
    assert page1[0] == "p:NID:424"
    assert page3[-1] == "p:NID:400"
    assert (none, zero) == ([], 0)
    assert [b.subject.subject_key for b in loaded] == page1[:2]
    assert loaded[0].enrolments[0][0].programme_identifier == "DCI001"


def check_enrolment_conditions_hold_on_the_same_row(store: Store) -> None:
    both = person_beneficiary("500")
    both["programme_identifier"].append(
        {
            "programme": {"programme_identifier": "P2"},
            "enrolment_date": "2024-01-01",
            "enrolment_status": "5",
        }
    )
    with store.transaction() as tx:
        tx.apply_enrolment_updates(build_updates(both))
        who = IdentifierIs("NID", "500")
        active_in_p2 = And(
            (
                who,
                Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, "P2"),
                Comparison(Attribute.ENROLMENT_STATUS, Operator.IN, ("1", "4")),
            )
        )
        active_in_dci = And(
            (
                who,
                Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, "DCI001"),
                Comparison(Attribute.ENROLMENT_STATUS, Operator.IN, ("1", "4")),
            )
        )
        assert not tx.subject_exists(active_in_p2, kind="person")
        assert tx.subject_exists(active_in_dci, kind="person")
        assert not tx.subject_exists(active_in_dci, kind="group")


def check_outbox_dedupes_claims_and_retries(store: Store) -> None:
    job = OutboxJob(
        job_id="job-1",
        dedupe_key="corr-1:on-search",
        correlation_id="corr-1",
        kind="on-search",
        sender_id="SP",
        target_url="https://sp.example/cb",
        payload={"header": {}, "message": {}},
        created_at=T0,
        next_attempt_at=T0,
    )
    duplicate = dataclasses.replace(job, job_id="job-2")
    with store.transaction() as tx:
        assert tx.enqueue_outbox(job)
        assert not tx.enqueue_outbox(duplicate), "same dedupe key enqueued twice"
    lease = T0 + timedelta(seconds=60)
    with store.transaction() as tx:
        assert [j.job_id for j in tx.claim_outbox_jobs(now=T0, limit=10, lease_until=lease)] == [
            "job-1"
        ]
    with store.transaction() as tx:
        assert tx.claim_outbox_jobs(now=T0, limit=10, lease_until=lease) == [], (
            "leased job re-claimed"
        )
        tx.mark_outbox_failed("job-1", error="HTTP 503", next_attempt_at=T0 + timedelta(seconds=5))
    with store.transaction() as tx:
        assert tx.claim_outbox_jobs(now=T0, limit=10, lease_until=lease) == [], "retried too early"
        retry = tx.claim_outbox_jobs(now=T0 + timedelta(seconds=6), limit=10, lease_until=lease)
        assert [j.attempts for j in retry] == [1]
        tx.mark_outbox_delivered("job-1", at=T0 + timedelta(seconds=6))
    with store.transaction() as tx:
        done = tx.get_outbox_job("job-1")
        assert done is not None
        assert done.status == "delivered"
        assert done.attempts == 2
        assert tx.claim_outbox_jobs(now=T0 + timedelta(days=1), limit=10, lease_until=lease) == []


def check_replay_memory_remembers_until_expiry(store: Store) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    with store.transaction() as tx:
        assert tx.remember_message("SP", "m-1", future)
    with store.transaction() as tx:
        assert not tx.remember_message("SP", "m-1", future), "replay not detected"
        assert tx.remember_message("OTHER", "m-1", future), "message ids are per sender"
        past = datetime.now(UTC) - timedelta(seconds=1)
        assert tx.remember_message("SP", "m-2", past)
        assert tx.remember_message("SP", "m-2", future), "an expired entry must not block"


def check_clients_round_trip(store: Store) -> None:
    client = ClientRecord(
        sender_id="SP-1",
        secret_hash="scrypt$x",  # noqa: S106 - a placeholder hash, not a secret
        public_jwks={"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "k1"}]},
        scopes=frozenset({"ibr.search", "ibr.write"}),
        allowed_callback_hosts=frozenset({"sp.example"}),
        allowed_programmes=frozenset({"DCI001"}),
        allow_private_callbacks=False,
        created_at=T0,
        callback_token_url="https://sp.example/oauth2/client/token",  # noqa: S106 - a URL
        callback_client_id="IBR-1",
        callback_client_secret="s3cret",  # noqa: S106 - a placeholder, not a secret
    )
    with store.transaction() as tx:
        tx.put_client(client)
        tx.put_client(ClientRecord(sender_id="SP-0", secret_hash="h", created_at=T0))  # noqa: S106
    with store.transaction() as tx:
        assert tx.get_client("SP-1") == client
        assert [c.sender_id for c in tx.list_clients()] == ["SP-0", "SP-1"]
        unrestricted = tx.get_client("SP-0")
        assert unrestricted is not None
        assert unrestricted.allowed_programmes is None
        assert unrestricted.callback_token_url is None
        assert unrestricted.callback_client_secret is None
        assert tx.get_client("nobody") is None
    without_callback_auth = dataclasses.replace(
        client, callback_token_url=None, callback_client_secret=None
    )
    with store.transaction() as tx:
        tx.put_client(without_callback_auth)
    with store.transaction() as tx:
        assert tx.get_client("SP-1") == without_callback_auth, "clearing callback auth must stick"


def check_audit_entries_round_trip_in_order(store: Store) -> None:
    with store.transaction() as tx:
        first = append_audit(tx, at=T0, actor="a", action="x", subject="s", detail={"n": 1})
        second = append_audit(tx, at=T0, actor="a", action="y", subject="s", detail={"n": [1, "é"]})
    with store.transaction() as tx:
        assert list(tx.iter_audit()) == [first, second]
        assert list(tx.iter_audit(after_seq=1, batch=1)) == [second]
        assert tx.last_audit_entry() == second


def check_transactions_are_found_and_claimed_once(store: Store) -> None:
    txn = TransactionRecord(
        correlation_id="c-1",
        sender_id="SP",
        action="search",
        message_id="m-1",
        transaction_id="T-9",
        status="rcvd",
        request={"header": {"sender_uri": "https://sp.example/cb"}, "message": {}},
        created_at=T0,
        updated_at=T0,
        reference_ids=("R-1", "R-2"),
    )
    with store.transaction() as tx:
        tx.add_transaction(txn)
    with store.transaction() as tx:
        assert [t.correlation_id for t in tx.find_transactions("SP", transaction_id="T-9")] == [
            "c-1"
        ]
        assert [t.correlation_id for t in tx.find_transactions("SP", reference_id="R-2")] == ["c-1"]
        assert tx.find_transactions("OTHER", transaction_id="T-9") == []
        claimed = tx.claim_pending_transactions(5)
        assert [t.correlation_id for t in claimed] == ["c-1"]
    with store.transaction() as tx:
        assert tx.claim_pending_transactions(5) == [], "a transaction was claimed twice"
        tx.update_transaction("c-1", status="succ", response={"ok": True}, error=None, now=T0)
    with store.transaction() as tx:
        done = tx.get_transaction("c-1")
        assert done is not None
        assert done.status == "succ"
        assert done.response == {"ok": True}
        assert done.reference_ids == ("R-1", "R-2")


def check_subscriptions_by_event_and_status(store: Store) -> None:
    sub = SubscriptionRecord(
        code="s-1",
        sender_id="SP",
        callback_uri="https://sp.example/notify",
        reg_event_type="enrollement",
        filter={"filter_type": "expression", "filter": {"programme_identifier": {"eq": "DCI001"}}},
        notify_record_type="Beneficiary",
        status="subscribe",
        created_at=T0,
    )
    with store.transaction() as tx:
        tx.add_subscription(sub)
        assert tx.active_subscriptions("enrollement") == [sub]
        assert tx.active_subscriptions("enrollement_status_change") == []
        tx.set_subscription_status("s-1", "unsubscribe")
        assert tx.active_subscriptions("enrollement") == []
        found = tx.get_subscription("s-1")
        assert found is not None
        assert found.status == "unsubscribe"


CONTRACT_CHECKS: tuple[Callable[[Store], None], ...] = (
    check_apply_then_resend_changes_nothing,
    check_status_change_is_recorded_with_history,
    check_exception_rolls_back_everything,
    check_search_pages_sorts_and_counts,
    check_enrolment_conditions_hold_on_the_same_row,
    check_outbox_dedupes_claims_and_retries,
    check_replay_memory_remembers_until_expiry,
    check_clients_round_trip,
    check_audit_entries_round_trip_in_order,
    check_transactions_are_found_and_claimed_once,
    check_subscriptions_by_event_and_status,
)
"""Every check, in a stable order; a runner gives each a fresh empty store."""
