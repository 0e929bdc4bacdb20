"""The store contract: plain functions that any `Store` implementation must pass.

Each check takes a *fresh, empty, migrated* store and raises AssertionError on a violation. They
need no pytest, so the SQL store runs them under pytest (service/tests/store) and the Odoo add-on
can run them under Odoo's test runner with an `OdooStore`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from ibr_service.core.audit import append_audit
from ibr_service.core.caller import Caller
from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES
from ibr_service.core.ingest import updates_from_beneficiary
from ibr_service.core.query import (
    And,
    Attribute,
    Comparison,
    Expr,
    IdentifierIs,
    Missing,
    Operator,
    SortKey,
)
from ibr_service.core.records import (
    ApplyOutcome,
    AreaMove,
    AreaRecord,
    BenefitChange,
    BenefitRecord,
    ClientRecord,
    EnrolmentRecord,
    EnrolmentUpdate,
    IdentifierRecord,
    IdentityCase,
    JsonDict,
    OutboxJob,
    ProgrammeRecord,
    RegistryWrite,
    SourceRecord,
    StatusChange,
    SubjectRecord,
    SubscriptionRecord,
    TransactionRecord,
)
from ibr_service.core.registry import apply_batch
from ibr_service.core.samples import person_beneficiary
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import Store, StoreTransaction

__all__ = ["CONTRACT_CHECKS", "apply", "build_updates"]

T0 = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
CALLER = Caller(sender_id="SP-Contract")
SETTINGS = CoreSettings()


def build_updates(*beneficiaries: JsonDict, now: datetime = T0) -> list[list[EnrolmentUpdate]]:
    """The EnrolmentUpdates of each canonical Beneficiary record, as the core makes them."""
    return [
        updates_from_beneficiary(
            b, caller=CALLER, now=now, identifier_types=DEFAULT_IDENTIFIER_TYPES, field=f"b[{i}]"
        )
        for i, b in enumerate(beneficiaries)
    ]


def apply(tx: StoreTransaction, *beneficiaries: JsonDict, now: datetime = T0) -> list[ApplyOutcome]:
    """Apply Beneficiary records through the core's registry rules; the outcomes, flattened."""
    items = build_updates(*beneficiaries, now=now)
    result = apply_batch(
        tx, items, fields=[f"b[{i}]" for i in range(len(items))], settings=SETTINGS, now=now
    )
    return [o for outcomes in result.outcomes for o in outcomes]


def check_apply_then_resend_changes_nothing(store: Store) -> None:
    with store.transaction() as tx:
        first = apply(tx, person_beneficiary("100"), person_beneficiary("101", programme="P2"))
    assert [o.result for o in first] == ["created", "created"]
    with store.transaction() as tx:
        counts = tx.count_rows()
        again = apply(tx, person_beneficiary("100"))
        assert tx.count_rows() == counts, "a re-sent identical item wrote rows"
    assert [o.result for o in again] == ["unchanged"]
    assert counts["subjects"] == 2
    assert counts["enrolments"] == 2
    assert counts["benefits"] == 2


def check_status_change_is_recorded_with_history(store: Store) -> None:
    with store.transaction() as tx:
        apply(tx, person_beneficiary("200"))
    deceased = person_beneficiary("200", status="2", status_change_date="2024-04-30")
    with store.transaction() as tx:
        (outcome,) = apply(tx, deceased)
        history = tx.status_history("p:NID:200|DCI001")
    assert (outcome.result, outcome.previous_status, outcome.new_status) == ("updated", "1", "2")
    assert [h.enrolment_status for h in history] == ["1", "2"]
    assert history[1].status_change_date is not None
    assert history[1].status_change_date.isoformat() == "2024-04-30"


def check_exception_rolls_back_everything(store: Store) -> None:
    class BoomError(Exception):
        pass

    try:
        with store.transaction() as tx:
            apply(tx, person_beneficiary("300"))
            raise BoomError
    except BoomError:
        pass
    with store.transaction() as tx:
        counts = tx.count_rows()
    assert all(n == 0 for n in counts.values()), f"rows left after rollback: {counts}"


def check_search_pages_sorts_and_counts(store: Store) -> None:
    people = [person_beneficiary(f"4{i:02d}", surname=f"S{i:02d}") for i in range(25)]
    with store.transaction() as tx:
        apply(tx, *people)
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
        apply(tx, both)
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


# --- the registry model at store level (RegistryWrite and the store's reads) ------------------
# These checks write what the core would decide and read it back, so that they test the store
# alone: round-trips, upserts, history order, merges and splits, areas and the query compiler.

D0 = date(2024, 1, 10)


def registry_subject(
    key: str,
    *,
    kind: Literal["person", "group"] = "person",
    ids: tuple[tuple[str, str], ...] = (),
    area: str | None = None,
    levels: tuple[str | None, ...] = (None, None, None, None),
    **facts: Any,
) -> SubjectRecord:
    """A subject as the core would write it (`facts`: any other SubjectRecord field)."""
    document: JsonDict = {"name": {"surname": facts.get("surname") or key}}
    return SubjectRecord(
        subject_key=key,
        kind=kind,
        identifiers=tuple(IdentifierRecord(t, v) for t, v in ids),
        document=document,
        content_hash=f"h-{key}",
        area_code=area,
        area_levels=levels,
        **facts,
    )


def registry_source(
    subject: SubjectRecord,
    source_key: str,
    programme: str,
    *,
    record: str | None = None,
    event: date = D0,
    received: datetime = T0,
) -> SourceRecord:
    return SourceRecord(
        source_key=source_key,
        subject=subject,
        sender_id=source_key.split("|")[0],
        programme_identifier=programme,
        beneficiary_programme_id=record,
        event_date=event,
        received_at=received,
    )


def registry_enrolment(
    subject_key: str,
    programme: str,
    *,
    record: str | None = None,
    status: str = "1",
    enrolled: date = D0,
    changed: date | None = None,
    source_key: str | None = None,
) -> EnrolmentRecord:
    key = f"{subject_key}|{programme}" + (f"|{record}" if record else "")
    return EnrolmentRecord(
        enrolment_key=key,
        subject_key=subject_key,
        programme_identifier=programme,
        enrolment_status=status,
        enrolment_date=enrolled,
        status_change_date=changed,
        status_reason=None,
        beneficiary_programme_id=record,
        sender_id="SP-A",
        content_hash=f"h-{key}-{status}-{changed}",
        updated_at=T0,
        event_date=changed or enrolled,
        source_key=source_key or f"SP-A|{programme}|{record or '~' + subject_key}",
    )


def registry_status(e: EnrolmentRecord, status: str, day: date) -> EnrolmentRecord:
    """`e` after a status change on `day`."""
    return dataclasses.replace(
        e,
        enrolment_status=status,
        status_change_date=day,
        event_date=day,
        content_hash=f"h-{e.enrolment_key}-{status}-{day}",
    )


def registry_change(e: EnrolmentRecord, *, applied: bool = True, at: datetime = T0) -> StatusChange:
    """The history entry of `e`'s current state."""
    return StatusChange(
        enrolment_key=e.enrolment_key,
        subject_key=e.subject_key,
        enrolment_status=e.enrolment_status,
        status_change_date=e.status_change_date,
        status_reason=e.status_reason,
        recorded_at=at,
        sender_id=e.sender_id,
        enrolment_date=e.enrolment_date,
        event_date=e.event_date,
        applied=applied,
        programme_identifier=e.programme_identifier,
    )


def registry_benefit(
    e: EnrolmentRecord, key: str, amount: str | None, *, paid: date = D0, **more: Any
) -> BenefitRecord:
    return BenefitRecord(
        enrolment_key=e.enrolment_key,
        subject_key=e.subject_key,
        benefit_key=key,
        benefit_type="1",
        benefit_date=paid,
        amount=None if amount is None else Decimal(amount),
        currency="KES",
        period_start=paid,
        period_end=paid + timedelta(days=29),
        document={"benefit_id": key, "amount": amount},
        programme_identifier=e.programme_identifier,
        **more,
    )


def registry_write_of(
    *subjects: SubjectRecord, enrolments: tuple[EnrolmentRecord, ...] = (), **parts: Any
) -> RegistryWrite:
    """A write of new subjects (with their identifier and member links) and enrolments."""
    write = RegistryWrite(
        subjects=list(subjects),
        identifiers=[(s.subject_key, i) for s in subjects for i in s.identifiers],
        memberships=[(s.subject_key, m) for s in subjects for m in s.member_keys],
        programmes=[
            ProgrammeRecord(p, f"Programme {p}", {"programme_identifier": p})
            for p in sorted({e.programme_identifier for e in enrolments})
        ],
        enrolments=list(enrolments),
        status_history=[registry_change(e) for e in enrolments],
        **parts,
    )
    return write


def _keys(tx: Any, query: Expr, **options: Any) -> list[str]:
    keys, total = tx.search_subjects(
        query,
        kind=options.pop("kind", None),
        sort=options.pop("sort", ()),
        offset=0,
        limit=50,
        **options,
    )
    assert total == len(keys), f"total {total} for a page of {len(keys)}"
    return list(keys)


def check_registry_write_round_trips(store: Store) -> None:
    person = registry_subject(
        "p:NID:1",
        ids=(("NID", "1"), ("BRN", "B-1")),
        area="KE-0101",
        levels=("KE-01", "KE-0101", None, None),
        given_name="Ana",
        surname="Lima",
        sex="female",
        birth_date=date(1980, 4, 12),
        death_date=date(2024, 6, 1),
        last_updated=date(2024, 6, 2),
        death_reported_by="SP-B|P2|R-9",
    )
    group = registry_subject(
        "g:HH:7", kind="group", ids=(("HH", "7"),), group_type="2", member_keys=("p:NID:1",)
    )
    e = registry_enrolment("p:NID:1", "P1")
    amounts = ("1234567.8912", "0.1", "-55.00", None)
    paid = [
        registry_benefit(e, f"b{i}", a, credited_amount=Decimal("0.01"), payment_status="3")
        for i, a in enumerate(amounts)
    ]
    sources = [
        registry_source(person, "SP-A|P1|~p:NID:1", "P1"),
        registry_source(
            dataclasses.replace(
                person, given_name="Anna", identifier_checks=(("NID", False), ("UIN", True))
            ),
            "SP-B|P2|R-9",
            "P2",
            record="R-9",
        ),
    ]
    write = registry_write_of(person, group, enrolments=(e,), sources=sources, benefits=paid)
    with store.transaction() as tx:
        tx.write_registry(write)
    with store.transaction() as tx:
        states = tx.load_subject_states(["p:NID:1", "g:HH:7", "p:NID:404"])
        counts = tx.count_rows()
        tx.write_registry(write)
        again = tx.count_rows()
        assert again.pop("enrolment_status_history") == counts.pop("enrolment_status_history") + 1
        assert again == counts, "writing the same keyed rows and links again added rows"
        assert tx.subjects_by_identifiers(
            [IdentifierRecord("BRN", "B-1"), IdentifierRecord("NID", "404")]
        ) == {IdentifierRecord("BRN", "B-1"): ("p:NID:1",)}
        assert tx.load_enrolments([e.enrolment_key, "nope"]) == {e.enrolment_key: e}
        assert tx.subjects_by_sources(["SP-B|P2|R-9", "SP-B|P2|R-404"]) == {
            "SP-B|P2|R-9": "p:NID:1"
        }
        stored = tx.load_benefits([(e.enrolment_key, "b0"), (e.enrolment_key, "b1")])
        (loaded,) = tx.load_beneficiaries(["p:NID:1"])
    assert set(states) == {"p:NID:1", "g:HH:7"}
    got = states["p:NID:1"].subject
    assert set(got.identifiers) == set(person.identifiers)
    assert dataclasses.replace(got, identifiers=person.identifiers) == person
    assert states["g:HH:7"].subject.member_keys == ("p:NID:1",)
    assert [(s.source_key, s.subject.given_name) for s in states["p:NID:1"].sources] == [
        ("SP-A|P1|~p:NID:1", "Ana"),
        ("SP-B|P2|R-9", "Anna"),
    ]
    assert states["p:NID:1"].sources[1].beneficiary_programme_id == "R-9"
    assert states["p:NID:1"].sources[1].subject.area_levels == person.area_levels
    assert states["p:NID:1"].sources[1].subject.death_date == date(2024, 6, 1)
    checks = [s.subject.identifier_checks for s in states["p:NID:1"].sources]
    assert checks == [(), (("NID", False), ("UIN", True))], "a source's identifier checks"
    assert stored == {(b.enrolment_key, b.benefit_key): b for b in paid[:2]}
    assert [b.amount for b in loaded.enrolments[0][2]] == [
        None if a is None else Decimal(a) for a in amounts
    ], "amounts must round-trip as exact decimals"
    assert all(isinstance(b.amount, Decimal) for b in loaded.enrolments[0][2][:3])
    assert {"source_records", "benefit_history", "identity_cases", "areas"} <= set(counts)
    assert counts["source_records"] == 2
    assert counts["benefits"] == 4


def check_registry_write_replaces_keyed_rows(store: Store) -> None:
    person = registry_subject("p:NID:2", ids=(("NID", "2"),), surname="Old")
    e = registry_enrolment("p:NID:2", "P1")
    with store.transaction() as tx:
        tx.write_registry(
            registry_write_of(person, enrolments=(e,), benefits=[registry_benefit(e, "b", "50.00")])
        )
    exited = registry_status(e, "3", date(2024, 3, 1))
    corrected = registry_benefit(e, "b", "55.00", payment_status="4")
    renamed = dataclasses.replace(person, surname="New", identifiers=())
    with store.transaction() as tx:
        tx.write_registry(
            RegistryWrite(subjects=[renamed], enrolments=[exited], benefits=[corrected])
        )
        assert tx.load_enrolments([e.enrolment_key])[e.enrolment_key] == exited
        assert tx.load_benefits([(e.enrolment_key, "b")]) == {(e.enrolment_key, "b"): corrected}
        state = tx.load_subject_states([person.subject_key])[person.subject_key]
        counts = tx.count_rows()
    assert state.subject.surname == "New"
    assert state.subject.identifiers == person.identifiers, "identifier links are never removed"
    assert (counts["enrolments"], counts["benefits"], counts["subjects"]) == (1, 1, 1)


def check_histories_keep_the_order_received(store: Store) -> None:
    e = registry_enrolment("p:NID:3", "P1")
    exit_ = registry_status(e, "3", date(2024, 6, 1))
    stale = registry_status(e, "4", date(2024, 2, 1))
    person = registry_subject("p:NID:3", ids=(("NID", "3"),))
    steps: tuple[tuple[Literal["created", "corrected", "reversed"], str, Decimal | None], ...] = (
        ("created", "50.00", None),
        ("corrected", "55.00", Decimal("50.00")),
        ("reversed", "55.00", Decimal("55.00")),
    )
    changes = [
        BenefitChange("p:NID:3", e.enrolment_key, "b", kind, Decimal(a), prev, "KES", None, T0, "S")
        for kind, a, prev in steps
    ]
    moves = [
        AreaMove("p:NID:3", code, (code[:5], code, None, None), D0, T0, "SP-A|P1|~p:NID:3")
        for code in ("KE-0102", "KE-0101")
    ]
    with store.transaction() as tx:
        tx.write_registry(
            registry_write_of(
                person,
                enrolments=(e,),
                benefit_history=changes[:2],
                area_moves=moves,
            )
        )
    with store.transaction() as tx:
        tx.write_registry(
            RegistryWrite(
                enrolments=[exit_],
                status_history=[registry_change(exit_), registry_change(stale, applied=False)],
                benefit_history=changes[2:],
            )
        )
    with store.transaction() as tx:
        history = tx.status_history(e.enrolment_key)
        benefit_changes = tx.benefit_history(e.enrolment_key)
        area_moves = tx.area_history("p:NID:3")
    assert [(h.enrolment_status, h.applied) for h in history] == [
        ("1", True),
        ("3", True),
        ("4", False),
    ]
    assert history[1] == registry_change(exit_)
    assert benefit_changes == changes
    assert area_moves == moves


def check_identity_cases_put_get_and_list_by_status(store: Store) -> None:
    def case(case_id: str, minutes: int) -> IdentityCase:
        return IdentityCase(
            case_id=case_id,
            kind="identifier_conflict",
            subject_keys=("p:NID:5", "p:BRN:5"),
            identifier_type="BRN",
            identifier_value="5",
            evidence={"sex": ["female", "male"]},
            sender_id="SP-A",
            programme_identifier="P1",
            opened_at=T0 + timedelta(minutes=minutes),
        )

    first, second = case("c-2", 1), case("c-1", 2)
    with store.transaction() as tx:
        tx.write_registry(RegistryWrite(identity_cases=[first, second]))
    merged = dataclasses.replace(
        first, status="merged", decided_at=T0 + timedelta(days=1), decided_by="ops", note="same"
    )
    with store.transaction() as tx:
        tx.put_identity_case(merged)
    with store.transaction() as tx:
        assert [c.case_id for c in tx.identity_cases()] == ["c-2", "c-1"], "oldest first"
        assert tx.identity_cases(status="open") == [second]
        assert tx.identity_cases(status="merged") == [merged]
        assert tx.get_identity_case("c-2") == merged
        assert tx.get_identity_case("c-404") is None


def check_move_subject_rekeys_every_row(store: Store) -> None:
    a = registry_subject("p:NID:A", ids=(("NID", "A"), ("BRN", "shared")))
    b = registry_subject("p:NID:B", ids=(("NID", "B"), ("BRN", "shared")))
    household = registry_subject("g:HH:1", kind="group", member_keys=("p:NID:A",))
    a_p1 = registry_enrolment("p:NID:A", "P1", status="1")
    a_p2 = registry_enrolment("p:NID:A", "P2", record="R7")
    b_p1 = registry_enrolment("p:NID:B", "P1", status="4")
    a_p3 = registry_enrolment("p:NID:A", "P3")  # source key derived from A: SP-A|P3|~p:NID:A
    move = AreaMove("p:NID:A", "KE-01", ("KE-01", None, None, None), D0, T0, "SP-A|P2|R7")
    with store.transaction() as tx:
        tx.write_registry(
            registry_write_of(
                a,
                b,
                household,
                enrolments=(a_p1, a_p2, b_p1, a_p3),
                sources=[
                    registry_source(a, "SP-A|P2|R7", "P2", record="R7"),
                    registry_source(a, a_p3.source_key, "P3"),
                ],
                benefits=[registry_benefit(a_p2, "b1", "10.00")],
                benefit_history=[
                    BenefitChange(
                        "p:NID:A",
                        a_p2.enrolment_key,
                        "b1",
                        "created",
                        Decimal(10),
                        None,
                        "KES",
                        None,
                        T0,
                        "SP-A",
                    )
                ],
                area_moves=[move],
            )
        )
    with store.transaction() as tx:
        tx.move_subject("p:NID:A", "p:NID:B")
    moved = "p:NID:B|P2|R7"
    with store.transaction() as tx:
        states = tx.load_subject_states(["p:NID:A", "p:NID:B", "g:HH:1"])
        assert set(states) == {"p:NID:B", "g:HH:1"}, "the merged subject must be gone"
        assert {i.identifier_value for i in states["p:NID:B"].subject.identifiers} == {
            "A",
            "B",
            "shared",
        }
        assert {s.source_key for s in states["p:NID:B"].sources} == {
            "SP-A|P2|R7",
            "SP-A|P3|~p:NID:B",
        }, "a source key derived from the merged subject follows it"
        assert states["g:HH:1"].subject.member_keys == ("p:NID:B",)
        assert tx.subjects_by_identifiers([IdentifierRecord("NID", "A")]) == {
            IdentifierRecord("NID", "A"): ("p:NID:B",)
        }
        found = tx.load_enrolments([moved, a_p2.enrolment_key, b_p1.enrolment_key, "p:NID:B|P3"])
        assert set(found) == {moved, b_p1.enrolment_key, "p:NID:B|P3"}
        assert found["p:NID:B|P3"].source_key == "SP-A|P3|~p:NID:B"
        assert found[moved].source_key == "SP-A|P2|R7"
        assert found[moved].subject_key == "p:NID:B"
        assert found[b_p1.enrolment_key].enrolment_status == "4", "the kept subject's row wins"
        assert [b.amount for b in tx.load_benefits([(moved, "b1")]).values()] == [Decimal(10)]
        assert [h.subject_key for h in tx.status_history(moved)] == ["p:NID:B"]
        assert [c.enrolment_key for c in tx.benefit_history(moved)] == [moved]
        assert [m.area_code for m in tx.area_history("p:NID:B")] == ["KE-01"]
        assert tx.area_history("p:NID:A") == []
        counts = tx.count_rows()
    assert counts["enrolments"] == 3
    assert counts["enrolment_status_history"] == 4, "every history row moves"


def check_move_source_moves_its_enrolments_and_benefits(store: Store) -> None:
    a = registry_subject("p:NID:S", ids=(("NID", "S"),))
    e1 = registry_enrolment("p:NID:S", "P1", source_key="SP-A|P1|~p:NID:S")
    e2 = registry_enrolment("p:NID:S", "P2", record="R2", source_key="SP-B|P2|R2")
    with store.transaction() as tx:
        tx.write_registry(
            registry_write_of(
                a,
                enrolments=(e1, e2),
                sources=[
                    registry_source(a, "SP-A|P1|~p:NID:S", "P1"),
                    registry_source(a, "SP-B|P2|R2", "P2", record="R2"),
                ],
                benefits=[registry_benefit(e1, "b1", "1.00"), registry_benefit(e2, "b2", "2.00")],
            )
        )
    split = registry_subject("p:~split:1")
    with store.transaction() as tx:
        tx.move_source("p:NID:S", "SP-B|P2|R2", "p:~split:1")
        tx.write_registry(RegistryWrite(subjects=[split]))
    with store.transaction() as tx:
        states = tx.load_subject_states(["p:NID:S", "p:~split:1"])
        assert [s.source_key for s in states["p:NID:S"].sources] == ["SP-A|P1|~p:NID:S"]
        assert [s.source_key for s in states["p:~split:1"].sources] == ["SP-B|P2|R2"]
        found = tx.load_enrolments([e1.enrolment_key, e2.enrolment_key, "p:~split:1|P2|R2"])
        assert set(found) == {e1.enrolment_key, "p:~split:1|P2|R2"}
        assert set(tx.load_benefits([("p:~split:1|P2|R2", "b2"), (e1.enrolment_key, "b1")])) == {
            ("p:~split:1|P2|R2", "b2"),
            (e1.enrolment_key, "b1"),
        }
        assert [h.subject_key for h in tx.status_history("p:~split:1|P2|R2")] == ["p:~split:1"]
        assert states["p:NID:S"].subject.identifiers == a.identifiers


def check_deceased_with_open_enrolments(store: Store) -> None:
    dead = registry_subject("p:NID:D", death_date=date(2024, 2, 1))
    reported = registry_subject("p:NID:R", death_reported_by="SP-B|P2|R1")
    alive = registry_subject("p:NID:L")
    enrolments = (
        registry_enrolment("p:NID:D", "P1", status="1"),
        registry_enrolment("p:NID:D", "P2", status="3"),
        registry_enrolment("p:NID:R", "P1", status="4"),
        registry_enrolment("p:NID:L", "P1", status="1"),
    )
    with store.transaction() as tx:
        tx.write_registry(registry_write_of(dead, reported, alive, enrolments=enrolments))
        found = tx.deceased_with_open_enrolments(["1", "4"])
    assert [(key, e.enrolment_key) for key, e in found] == [
        ("p:NID:D", "p:NID:D|P1"),
        ("p:NID:R", "p:NID:R|P1"),
    ]
    assert found[0][1] == enrolments[0]


def check_areas_load_with_their_ancestors(store: Store) -> None:
    hierarchy = [
        AreaRecord("KE", 0, "Kenya", None, "KE"),
        AreaRecord("KE-01", 1, "Region", "KE", "KE"),
        AreaRecord("KE-0101", 2, "District", "KE-01", "KE"),
        AreaRecord("KE-010101", 3, "Ward", "KE-0101", "KE"),
        AreaRecord("KE-02", 1, "Other region", "KE", "KE"),
    ]
    with store.transaction() as tx:
        tx.put_areas(hierarchy)
        tx.put_areas([dataclasses.replace(hierarchy[2], name="District renamed")])
    with store.transaction() as tx:
        found = tx.load_areas(["KE-010101", "XX-404"])
        assert set(found) == {"KE", "KE-01", "KE-0101", "KE-010101"}
        assert found["KE-0101"].name == "District renamed"
        assert found["KE-010101"] == hierarchy[3]
        assert set(tx.load_areas(["KE-02"])) == {"KE", "KE-02"}
        assert tx.load_areas([]) == {}


def _search_population(store: Store) -> None:
    """Three subjects for the query checks (areas, kinds, record ids, dates)."""
    person = registry_subject(
        "p:NID:Q1",
        area="KE-010101",
        levels=("KE-01", "KE-0101", "KE-010101", None),
        last_updated=date(2024, 3, 1),
        surname="Zed",
    )
    other = registry_subject(
        "p:NID:Q2",
        area="KE-0201",
        levels=("KE-02", "KE-0201", None, None),
        last_updated=date(2023, 3, 1),
        surname="Amo",
        death_date=date(2024, 1, 1),
    )
    group = registry_subject("g:HH:Q3", kind="group", group_type="2")
    enrolments = (
        registry_enrolment("p:NID:Q1", "P1", record="B-9", enrolled=date(2024, 3, 1)),
        registry_enrolment("p:NID:Q1", "P2", enrolled=date(2021, 1, 1)),
        registry_enrolment("p:NID:Q2", "P1", enrolled=date(2022, 6, 1)),
        registry_enrolment("g:HH:Q3", "P1", record="B-1", enrolled=date(2023, 1, 1)),
    )
    with store.transaction() as tx:
        tx.write_registry(registry_write_of(person, other, group, enrolments=enrolments))


def check_search_by_each_registry_attribute(store: Store) -> None:
    _search_population(store)
    eq, in_ = Operator.EQ, Operator.IN
    expected: list[tuple[Expr, list[str]]] = [
        (Comparison(Attribute.ASSISTANCE_UNIT, eq, "1"), ["p:NID:Q1", "p:NID:Q2"]),
        (Comparison(Attribute.ASSISTANCE_UNIT, eq, "2"), ["g:HH:Q3"]),
        (Comparison(Attribute.REGION_CODE, eq, "KE-01"), ["p:NID:Q1"]),
        (Comparison(Attribute.DISTRICT_CODE, eq, "KE-0201"), ["p:NID:Q2"]),
        (Comparison(Attribute.AREA_CODE, eq, "KE-0101"), ["p:NID:Q1"]),
        (Comparison(Attribute.AREA_CODE, in_, ("KE-010101", "KE-02")), ["p:NID:Q1", "p:NID:Q2"]),
        (Comparison(Attribute.AREA_CODE, Operator.NE, "KE-01"), ["g:HH:Q3", "p:NID:Q2"]),
        (Comparison(Attribute.LAST_UPDATED, Operator.GE, date(2024, 1, 1)), ["p:NID:Q1"]),
        (Comparison(Attribute.BENEFICIARY_PROGRAMME_ID, eq, "B-9"), ["p:NID:Q1"]),
        (Missing(Attribute.DEATH_DATE), ["g:HH:Q3", "p:NID:Q1"]),
        (Missing(Attribute.AREA_CODE), ["g:HH:Q3"]),
        (Missing(Attribute.BENEFICIARY_PROGRAMME_ID), ["p:NID:Q2"]),
        (
            And(
                (
                    Comparison(Attribute.PROGRAMME_IDENTIFIER, eq, "P2"),
                    Comparison(Attribute.BENEFICIARY_PROGRAMME_ID, eq, "B-9"),
                )
            ),
            [],
        ),
    ]
    with store.transaction() as tx:
        for query, keys in expected:
            assert sorted(_keys(tx, query)) == keys, query


def check_sort_on_enrolment_and_area_attributes(store: Store) -> None:
    _search_population(store)
    every = Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, "P1")
    by_date = SortKey(Attribute.ENROLMENT_DATE)
    with store.transaction() as tx:
        # Q1 holds 2021-01-01 (P2) and 2024-03-01: the smallest ascending, the largest descending.
        assert _keys(tx, every, sort=[by_date]) == ["p:NID:Q1", "p:NID:Q2", "g:HH:Q3"]
        assert _keys(tx, every, sort=[SortKey(Attribute.ENROLMENT_DATE, descending=True)]) == [
            "p:NID:Q1",
            "g:HH:Q3",
            "p:NID:Q2",
        ]
        people = Comparison(Attribute.ASSISTANCE_UNIT, Operator.EQ, "1")
        assert _keys(tx, people, sort=[SortKey(Attribute.REGION_CODE, descending=True)]) == [
            "p:NID:Q2",
            "p:NID:Q1",
        ]
        assert _keys(tx, people, sort=[SortKey(Attribute.SURNAME)]) == ["p:NID:Q2", "p:NID:Q1"]


def check_as_of_reads_enrolments_on_that_date(store: Store) -> None:
    e = registry_enrolment("p:NID:H", "P1", enrolled=date(2024, 1, 10))
    exited = registry_status(e, "3", date(2024, 6, 1))
    stale = registry_status(e, "4", date(2024, 3, 1))
    late = registry_enrolment("p:NID:L2", "P1", enrolled=date(2024, 5, 1))
    with store.transaction() as tx:
        tx.write_registry(
            registry_write_of(
                registry_subject("p:NID:H"), registry_subject("p:NID:L2"), enrolments=(e, late)
            )
        )
        tx.write_registry(
            RegistryWrite(
                enrolments=[exited],
                status_history=[registry_change(exited), registry_change(stale, applied=False)],
            )
        )
    active = And(
        (
            Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, "P1"),
            Comparison(Attribute.ENROLMENT_STATUS, Operator.EQ, "1"),
        )
    )
    with store.transaction() as tx:
        assert _keys(tx, active) == ["p:NID:L2"], "without as_of: the current state"
        assert _keys(tx, active, as_of=date(2023, 12, 31)) == [], "nobody was enrolled yet"
        assert _keys(tx, active, as_of=date(2024, 3, 15)) == ["p:NID:H"], "stale rows ignored"
        assert _keys(tx, active, as_of=date(2024, 5, 1)) == ["p:NID:H", "p:NID:L2"]
        assert _keys(tx, active, as_of=date(2024, 6, 1)) == ["p:NID:L2"]
        exited_then = Comparison(Attribute.ENROLMENT_STATUS, Operator.EQ, "3")
        assert _keys(tx, exited_then, as_of=date(2024, 7, 1)) == ["p:NID:H"]


def check_delete_client(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_client(ClientRecord(sender_id="SP-gone", secret_hash="h", created_at=T0))  # noqa: S106
        tx.put_client(ClientRecord(sender_id="SP-kept", secret_hash="h", created_at=T0))  # noqa: S106
    with store.transaction() as tx:
        assert tx.delete_client("SP-gone") is True
        assert tx.delete_client("SP-gone") is False, "deleting an absent client reports False"
    with store.transaction() as tx:
        assert tx.get_client("SP-gone") is None
        assert [c.sender_id for c in tx.list_clients()] == ["SP-kept"]


REGISTRY_CONTRACT_CHECKS: tuple[Callable[[Store], None], ...] = (
    check_registry_write_round_trips,
    check_registry_write_replaces_keyed_rows,
    check_histories_keep_the_order_received,
    check_identity_cases_put_get_and_list_by_status,
    check_move_subject_rekeys_every_row,
    check_move_source_moves_its_enrolments_and_benefits,
    check_deceased_with_open_enrolments,
    check_areas_load_with_their_ancestors,
    check_search_by_each_registry_attribute,
    check_sort_on_enrolment_and_area_attributes,
    check_as_of_reads_enrolments_on_that_date,
    check_delete_client,
)
"""Store-level checks of the registry model (RegistryWrite and reads only)."""
CONTRACT_CHECKS = (*CONTRACT_CHECKS, *REGISTRY_CONTRACT_CHECKS)
