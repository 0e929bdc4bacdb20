"""PRS.IBR.03 in the core: which events reach which subscriber, where notify goes, and what the
notify envelope looks like. Everything that could silently lose (or leak) a notification has a
test here: the sender of the event, the subscriber's allowed programmes, unsubscribing, the
frequency window, and the filter.

These tests use a SQLite store only: the matching is core logic, and the store's subscription
methods are covered by the store contract tests on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ibr_protocol as proto
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.records import ClientRecord, OutboxJob, ReadProgrammes
from ibr_service.core.samples import enrollment_message, person_beneficiary
from ibr_service.core.subscriptions import notify_target
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import StepClock

PENSION = Caller(
    sender_id="pension-mis",
    scopes=frozenset({"registry.subscribe", "registry.enrollment.updates"}),
    allowed_programmes=frozenset({"PEN-1"}),
)
CRVS = Caller(sender_id="crvs-mis", scopes=frozenset({"registry.enrollment.updates"}))
RECEIVER = "https://pension.example/ibr"
PEN1_FILTER = [
    {
        "seq_num": 1,
        "expression1": {
            "attribute_name": "programme_identifier",
            "operator": "eq",
            "attribute_value": "PEN-1",
        },
    }
]


@pytest.fixture
def core(tmp_path: Path, clock: StepClock) -> Iterator[IbrCore]:
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    ibr = IbrCore(store, clock=clock, settings=CoreSettings(receiver_id="IBR"))
    for caller in (PENSION, CRVS):
        _register(ibr, caller)
    yield ibr
    store.engine.dispose()


def _register(core: IbrCore, caller: Caller, read: ReadProgrammes = "own") -> None:
    """Subscribers are registered clients: their read scope decides what notify reveals."""
    with core.store.transaction() as tx:
        tx.put_client(
            ClientRecord(
                sender_id=caller.sender_id,
                secret_hash="x",
                scopes=caller.scopes,
                allowed_programmes=caller.allowed_programmes,
                read_programmes=read,
                created_at=core.clock(),
            )
        )


def _subscribe(core: IbrCore, caller: Caller = PENSION, **options: Any) -> str:
    item = _subscribe_item(core, caller, **options)
    assert item["status"] == "succ", item
    return str(item["subscriptions"][0]["code"])


def _subscribe_item(
    core: IbrCore,
    caller: Caller = PENSION,
    *,
    sender_uri: str = RECEIVER + "/registry/on-subscribe",
    frequency: dict[str, str] | None = None,
    message_id: str = "sub-1",
) -> dict[str, Any]:
    criteria: dict[str, Any] = {
        "reg_event_type": "enrollement_status_change",
        "filter_type": "predicate",
        "filter": PEN1_FILTER,
        "notify_record_type": "Beneficiary",
    }
    if frequency is not None:
        criteria["frequency"] = frequency
    message = {
        "transaction_id": f"T-{message_id}",
        "subscribe_request": [
            {
                "reference_id": "r-1",
                "timestamp": "2024-05-02T10:00:00Z",
                "subscribe_criteria": criteria,
            }
        ],
    }
    header = proto.build_request(
        action="subscribe",
        message=message,
        sender_id=caller.sender_id,
        receiver_id="IBR",
        sender_uri=sender_uri,
        message_id=message_id,
    )
    correlation_id = core.accept_async("subscribe", {**header}, caller=caller)
    core.run_pending(10)
    with core.store.transaction() as tx:
        (job,) = tx.outbox_jobs_for(correlation_id)
    (item,) = job.payload["message"]["subscribe_response"]
    return dict(item)


def _report(
    core: IbrCore, caller: Caller, status: str, *, programme: str = "PEN-1"
) -> list[OutboxJob]:
    """`caller` reports person NID 1 with `status`; returns the notify jobs this produced."""
    beneficiary = person_beneficiary(
        "1", programme=programme, status=status, status_change_date="2024-04-20"
    )
    answer = core.enrollment_updates(enrollment_message([beneficiary]), caller=caller)
    assert answer["enrolled_response"][0]["status"] == "succ", answer
    with core.store.transaction() as tx:
        jobs = tx.outbox_jobs_for(answer["correlation_id"])
    return [job for job in jobs if job.kind == "notify"]


def test_a_death_reported_by_another_sp_mis_is_notified_to_the_subscriber(
    core: IbrCore,
) -> None:
    """If this fails, the pension programme never learns that a beneficiary died when the civil
    registry (not the pension MIS itself) reports it: PRS.IBR.03 is broken."""
    _report(core, PENSION, "1")
    code = _subscribe(core)
    (job,) = _report(core, CRVS, "2")
    assert job.sender_id == "pension-mis"
    (event,) = job.payload["message"]["notify_event"]
    assert event["subscription_code"] == code
    enrolment = event["data"]["reg_records"][0]["programme_identifier"][0]
    assert (enrolment["programme"]["programme_identifier"], enrolment["enrolment_status"]) == (
        "PEN-1",
        "2",
    )


def test_notify_goes_to_the_base_url_plus_registry_notify(core: IbrCore) -> None:
    """If this fails, notify is POSTed to the on-subscribe URL (or elsewhere) instead of the
    subscriber's base URL + /registry/notify that spec/openapi.yaml names (IBR-NOTIFY-001)."""
    _report(core, PENSION, "1")
    _subscribe(core)
    (job,) = _report(core, CRVS, "2")
    assert job.target_url == RECEIVER + "/registry/notify"


@pytest.mark.parametrize(
    ("sender_uri", "target"),
    [
        ("https://sp.example/registry/on-subscribe", "https://sp.example/registry/notify"),
        ("https://sp.example/ibr/registry/on-subscribe/", "https://sp.example/ibr/registry/notify"),
        ("https://sp.example/callbacks", "https://sp.example/callbacks"),
        (
            "https://sp.example/registry/on-subscribe/extra",
            "https://sp.example/registry/on-subscribe/extra",
        ),
    ],
    ids=["root", "prefix-and-slash", "generic-dci-callback", "path-in-the-middle"],
)
def test_notify_target_of_a_sender_uri(sender_uri: str, target: str) -> None:
    """If this fails, the rule of DEV-API-22 for deriving the notify URL is not the one coded."""
    assert notify_target(sender_uri) == target


def test_the_notify_envelope_meets_the_spec(core: IbrCore) -> None:
    """If this fails, subscribers answer ERR to every notify (a request header instead of the
    callback header that envelope_notify_event_request requires), so none is ever delivered."""
    _report(core, PENSION, "1")
    _subscribe(core)
    (job,) = _report(core, CRVS, "2")
    proto.validate(job.payload, "api/envelope_notify_event_request")
    assert job.payload["header"]["status"] == "succ"
    assert job.payload["header"]["receiver_id"] == "pension-mis"


def test_a_read_scope_wider_than_the_written_programmes_gets_their_events(
    core: IbrCore,
) -> None:
    """If this fails, a subscriber that may read all programmes (an oversight body) but writes
    only CT-2 loses status changes of PEN-1 that it may read by search."""
    other_writer = Caller(
        sender_id="pension-mis",
        scopes=PENSION.scopes,
        allowed_programmes=frozenset({"CT-2"}),
    )
    _register(core, other_writer, read="all")
    _report(core, CRVS, "1")
    code = _subscribe(core, other_writer)
    (job,) = _report(core, CRVS, "2")
    assert [e["subscription_code"] for e in job.payload["message"]["notify_event"]] == [code]
    assert job.sender_id == "pension-mis"


def test_events_outside_the_read_scope_are_not_notified(core: IbrCore) -> None:
    """If this fails, a subscriber learns of enrolments in programmes it may not read
    (IBR-SUB-004): it reads its own programme CT-2 only, the event is in PEN-1."""
    other_writer = Caller(
        sender_id="pension-mis",
        scopes=PENSION.scopes,
        allowed_programmes=frozenset({"CT-2"}),
    )
    _register(core, other_writer, read="own")
    _report(core, CRVS, "1")
    _subscribe(core, other_writer)
    assert _report(core, CRVS, "2") == []


def test_an_unsubscribed_subscription_gets_no_more_events(core: IbrCore) -> None:
    """If this fails, an SP-MIS that unsubscribed keeps receiving personal data it gave up."""
    _report(core, PENSION, "1")
    code = _subscribe(core)
    message = {"transaction_id": "T-unsub", "subscription_codes": [code]}
    envelope = proto.build_request(
        action="unsubscribe",
        message=message,
        sender_id=PENSION.sender_id,
        receiver_id="IBR",
        sender_uri=RECEIVER + "/registry/on-unsubscribe",
    )
    core.accept_async("unsubscribe", envelope, caller=PENSION)
    core.run_pending(10)
    assert _report(core, CRVS, "2") == []


def test_an_unchanged_status_or_another_programme_raises_no_event(core: IbrCore) -> None:
    """If this fails, subscribers are flooded with notifies for re-sent records or for
    programmes their filter excludes. (A death in another programme is notified: it is a
    person-level event, see the death tests.)"""
    _report(core, PENSION, "1")
    _subscribe(core)
    assert _report(core, CRVS, "1") == []
    assert _report(core, CRVS, "5", programme="CT-2") == []


def test_events_outside_the_frequency_window_are_not_notified(
    core: IbrCore, clock: StepClock
) -> None:
    """If this fails, a subscription asked for a period (frequency start_time..end_time) gets
    events from outside it, or loses the ones inside it."""
    _report(core, PENSION, "1")
    _subscribe(
        core,
        frequency={
            "start_time": "2024-05-03T00:00:00Z",
            "end_time": "2024-05-04T00:00:00Z",
            "frequency": "0 0 * * * ? *",
        },
    )
    assert _report(core, CRVS, "4") == [], "before start_time"  # clock: 2024-05-02
    clock.advance(24 * 3600)
    assert len(_report(core, CRVS, "5")) == 1, "inside the window"
    clock.advance(2 * 24 * 3600)
    assert _report(core, CRVS, "1") == [], "after end_time"


def test_a_frequency_that_ends_before_it_starts_is_rejected(core: IbrCore) -> None:
    """If this fails, a subscription that can never fire is accepted silently."""
    item = _subscribe_item(
        core,
        frequency={
            "start_time": "2024-05-04T00:00:00Z",
            "end_time": "2024-05-03T00:00:00Z",
            "frequency": "0 0 * * * ? *",
        },
    )
    assert item["status_reason_code"] == "rjct.notify_details.invalid"
    assert "frequency.end_time: must not be before start_time" in item["status_reason_message"]
