"""sync/enrollment/updates: idempotency, per-item status, status history, rollback, bulk path."""

from __future__ import annotations

import pytest

from ibr_service.core import Caller, IbrCore, RequestError
from ibr_service.core.samples import enrollment_message, group_beneficiary, person_beneficiary
from ibr_service.store_sql import SqlStore

from .conftest import SP, StepClock, counts


def test_resending_the_same_batch_changes_nothing(core: IbrCore, clock: StepClock) -> None:
    """If this fails, a re-sent batch duplicates rows, history or audit entries."""
    batch = enrollment_message([person_beneficiary("1"), group_beneficiary("H1", ["2", "3"])])
    first = core.enrollment_updates(batch, caller=SP)
    assert [i["status"] for i in first["enrolled_response"]] == ["succ", "succ"]
    before = counts(core)
    clock.advance(60)
    again = core.enrollment_updates(batch, caller=SP)
    after = counts(core)
    assert [i["status"] for i in again["enrolled_response"]] == ["succ", "succ"]
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"transactions": 1}
    assert before["audit_log"] == after["audit_log"] == 1
    assert before["subjects"] == 4
    assert before["memberships"] == 2


def test_one_bad_item_never_loses_the_good_ones(core: IbrCore) -> None:
    """If this fails, one malformed beneficiary rejects (or silently drops) its neighbours."""
    bad_date = person_beneficiary("11", birth_date="12/04/1980")
    no_ids = person_beneficiary("12")
    no_ids["member"]["member_identifier"] = []
    no_ids["member"]["demographic_info"].pop("identifier")
    message = enrollment_message(
        [person_beneficiary("10"), bad_date, no_ids, person_beneficiary("13")]
    )
    response = core.enrollment_updates(message, caller=SP)
    items = response["enrolled_response"]
    assert [i["status"] for i in items] == ["succ", "rjct", "rjct", "succ"]
    assert items[1]["status_reason_code"] == "rjct.beneficiary.invalid"
    assert (
        "beneficiaries[1].member.demographic_info.birth_date" in items[1]["status_reason_message"]
    )
    assert "member_identifier" in items[2]["status_reason_message"]
    assert counts(core)["subjects"] == 2


def test_programme_outside_the_callers_allowance_is_rejected_per_item(core: IbrCore) -> None:
    """If this fails, an SP-MIS can write enrolments of a programme it does not run."""
    caller = Caller(sender_id="SP-A", allowed_programmes=frozenset({"DCI001"}))
    message = enrollment_message(
        [person_beneficiary("20"), person_beneficiary("21", programme="OTHER")]
    )
    items = core.enrollment_updates(message, caller=caller)["enrolled_response"]
    assert [(i["status"], i.get("status_reason_code")) for i in items] == [
        ("succ", None),
        ("rjct", "rjct.programme.not_allowed"),
    ]
    assert counts(core)["enrolments"] == 1


def test_status_changes_are_recorded_with_date_and_history(core: IbrCore, clock: StepClock) -> None:
    """If this fails, deceased/graduated/suspended changes overwrite the past without a trace."""
    core.enrollment_updates(enrollment_message([person_beneficiary("30")]), caller=SP)
    for status, day in (("4", "2024-04-20"), ("1", "2024-04-25"), ("2", "2024-04-30")):
        clock.advance(3600)
        core.enrollment_updates(
            enrollment_message([person_beneficiary("30", status=status, status_change_date=day)]),
            caller=SP,
        )
    with core.store.transaction() as tx:
        history = tx.status_history("p:NID:30|DCI001")
    assert [(h.enrolment_status, str(h.status_change_date)) for h in history] == [
        ("1", "2024-04-12"),
        ("4", "2024-04-20"),
        ("1", "2024-04-25"),
        ("2", "2024-04-30"),
    ]


def test_a_request_without_beneficiaries_is_refused_and_writes_nothing(core: IbrCore) -> None:
    """If this fails, a malformed request half-writes or raises something the host maps to 500."""
    with pytest.raises(RequestError, match=r"enrolled_updates\.beneficiaries") as caught:
        core.enrollment_updates({"transaction_id": "T", "enrolled_updates": {}}, caller=SP)
    assert caught.value.code == "err.request.bad"
    assert all(n == 0 for table, n in counts(core).items() if table != "clients")


def test_store_failure_rolls_back_the_batch_and_rejects_only_the_culprit(
    core: IbrCore, sql_store: SqlStore
) -> None:
    """If this fails, a database error on one item loses the whole batch or leaves partial rows."""
    too_long = person_beneficiary("41")
    too_long["programme_identifier"][0]["programme"]["programme_identifier"] = "P" * 400
    message = enrollment_message([person_beneficiary("40"), too_long, person_beneficiary("42")])
    if sql_store.engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths, so nothing fails there")
    items = core.enrollment_updates(message, caller=SP)["enrolled_response"]
    assert [i["status"] for i in items] == ["succ", "rjct", "succ"]
    rows = counts(core)
    assert rows["enrolments"] == 2
    assert rows["subjects"] == 2


@pytest.mark.postgres
def test_bulk_copy_path_gives_the_same_result_as_the_row_path(
    core: IbrCore, sql_store: SqlStore
) -> None:
    """If this fails, large batches (COPY + set-wise merge) store other data than small ones."""
    if sql_store.engine.dialect.name != "postgresql":
        pytest.skip("the COPY path exists on PostgreSQL only")
    people = [person_beneficiary(f"9{i:04d}") for i in range(120)]  # above bulk_threshold=50
    response = core.enrollment_updates(enrollment_message(people), caller=SP)
    assert {i["status"] for i in response["enrolled_response"]} == {"succ"}
    bulk_counts = counts(core)
    assert bulk_counts["subjects"] == 120
    assert bulk_counts["enrolment_status_history"] == 120
    assert bulk_counts["identifiers"] == 120
    assert bulk_counts["benefits"] == 120
    core.enrollment_updates(enrollment_message(people), caller=SP)
    assert counts(core)["enrolment_status_history"] == 120
    changed = [person_beneficiary(f"9{i:04d}", status="3" if i < 10 else "1") for i in range(120)]
    core.enrollment_updates(enrollment_message(changed), caller=SP)
    assert counts(core)["enrolment_status_history"] == 130
    with core.store.transaction() as tx:
        loaded = tx.load_beneficiaries(["p:NID:90003"])
    assert loaded[0].enrolments[0][0].enrolment_status == "3"
    assert loaded[0].subject.document["demographic_info"]["name"]["surname"] == "Okafor"
