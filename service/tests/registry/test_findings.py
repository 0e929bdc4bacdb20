"""The eleven findings of the registry-model issue, each reproduced over the API.

Each test failed on the code before the registry model (identity by the first national-ID-typed
identifier, one enrolment per subject and programme, last writer wins, no ordering, no read
scope) and states the rule the IBR now keeps (docs/registry-model.md).
"""

from __future__ import annotations

from decimal import Decimal

from ibr_service.core.query import IdentifierIs
from ibr_service.core.samples import person_beneficiary as person

from .conftest import Registry, enrolled, nid, push, records, search, where


def _subjects(registry: Registry, nid_value: str) -> list[str]:
    with registry.box.host.store.transaction() as tx:
        keys, _ = tx.search_subjects(
            IdentifierIs("NID", nid_value), kind=None, sort=(), offset=0, limit=10
        )
    return keys


def test_1_one_person_whatever_the_order_format_or_alias_of_identifiers(
    registry: Registry,
) -> None:
    a = registry.spmis("pa", ("PA",))
    b = registry.spmis("pb", ("PB",))
    c = registry.spmis("pc", ("PC",))
    n, uin = nid(1), f"U{nid(1)}"
    push(a, person(n, programme="PA", identifiers=[("NID", n), ("UIN", uin)]))
    push(b, person(n, programme="PB", identifiers=[("UIN", uin), ("NID", n)]))
    spaced = f"{n[:4]} {n[4:8]}-{n[8:]}"
    push(c, person(n, programme="PC", identifiers=[("NationalID", spaced)]))
    assert len(_subjects(registry, n)) == 1
    oversight = registry.spmis("oversight", (), read="all")
    (record,) = records(search(oversight, "idtype-value", {"type": "NID", "value": n}))
    assert sorted(
        e["programme"]["programme_identifier"] for e in record["programme_identifier"]
    ) == [
        "PA",
        "PB",
        "PC",
    ]


def test_2_two_records_of_one_person_in_one_programme_stay_two_enrolments(
    registry: Registry,
) -> None:
    a = registry.spmis("pa", ("PA",))
    n = nid(2)
    results = push(
        a,
        person(n, programme="PA", record_id="PA-1"),
        person(n, programme="PA", record_id="PA-2"),
    )
    assert [r["status"] for r in results] == ["succ", "succ"]
    (record,) = records(search(a, "idtype-value", {"type": "NID", "value": n}))
    record_ids = sorted(e["beneficiary_programme_id"] for e in record["programme_identifier"])
    assert record_ids == ["PA-1", "PA-2"]


def test_3_a_stale_update_is_kept_in_history_but_does_not_replace_a_newer_state(
    registry: Registry,
) -> None:
    a = registry.spmis("pa", ("PA",))
    n = nid(3)
    push(a, person(n, programme="PA", status="5", status_change_date="2025-06-01"))
    push(a, person(n, programme="PA", status="1", status_change_date="2025-01-01"))
    assert enrolled(a, n, "PA") == "no"
    with registry.box.host.store.transaction() as tx:
        history = tx.status_history(f"p:NID:{n}|PA")
    assert [(h.enrolment_status, h.applied) for h in history] == [("5", True), ("1", False)]


def test_4_transitions_and_dates_are_validated_item_by_item(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    dead, good = nid(4), nid(5)
    push(a, person(dead, programme="PA", status="2", status_change_date="2024-03-01"))
    results = push(
        a,
        person(dead, programme="PA", status="1", status_change_date="2024-04-01"),
        person(nid(6), programme="PA", birth_date="1990-01-01", death_date="1980-01-01"),
        person(nid(7), programme="PA", birth_date="2024-06-01", enrolment_date="2024-01-01"),
        person(good, programme="PA"),
    )
    assert [r["status"] for r in results] == ["rjct", "rjct", "rjct", "succ"]
    assert results[0]["status_reason_code"] == "rjct.enrolment_status.invalid"
    assert results[1]["status_reason_code"] == "rjct.beneficiary.invalid"
    assert "death_date" in results[1]["status_reason_message"]
    assert "enrolment_date" in results[2]["status_reason_message"]
    assert enrolled(a, good, "PA") == "yes"
    withdrawn = person(
        dead,
        programme="PA",
        status="1",
        status_change_date="2024-04-02",
        status_reason="correction",
    )
    assert [r["status"] for r in push(a, withdrawn)] == ["succ"]


def test_5_no_source_erases_or_replaces_another_sources_facts(registry: Registry) -> None:
    b = registry.spmis("pb", ("PB",))
    c = registry.spmis("pc", ("PC",))
    x = registry.spmis("px", ("PX",))
    y = registry.spmis("py", ("PY",))
    n = nid(8)
    push(c, person(n, programme="PC", death_date="2024-02-01", enrolment_date="2020-01-01"))
    push(b, person(n, programme="PB", given_name="Later", enrolment_date="2024-04-01"))
    with registry.box.host.store.transaction() as tx:
        (key,) = tx.search_subjects(IdentifierIs("NID", n), kind=None, sort=(), offset=0, limit=2)[
            0
        ]
        state = tx.load_subject_states([key])[key]
    assert state.subject.death_date is not None
    assert state.subject.death_date.isoformat() == "2024-02-01"
    assert {s.subject.given_name for s in state.sources} == {"Amina", "Later"}
    # A writer of PX cannot touch what PY said about its own person.
    m = nid(9)
    push(y, person(m, programme="PY", given_name="Yusuf", enrolment_date="2023-01-01"))
    results = push(x, person(m, programme="PY", given_name="Xavier"))
    assert results[0]["status_reason_code"] == "rjct.programme.not_allowed"
    push(x, person(m, programme="PX", given_name="Xavier", enrolment_date="2024-01-01"))
    with registry.box.host.store.transaction() as tx:
        (key,) = tx.search_subjects(IdentifierIs("NID", m), kind=None, sort=(), offset=0, limit=2)[
            0
        ]
        by_programme = {
            s.programme_identifier: s.subject.given_name
            for s in tx.load_subject_states([key])[key].sources
        }
    assert by_programme == {"PY": "Yusuf", "PX": "Xavier"}


def test_6_a_death_reported_by_one_programme_is_a_person_level_fact(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    c = registry.spmis("pc", ("PC",))
    n = nid(10)
    push(a, person(n, programme="PA"))
    push(c, person(n, programme="PC"))
    assert enrolled(a, n, "PA") == "yes"
    # A death_date alone, with no status change, is a death report.
    push(c, person(n, programme="PC", death_date="2024-05-01", enrolment_date="2024-04-12"))
    assert enrolled(a, n, "PA") == "no"
    assert enrolled(a, n) == "no"
    from ibr_service.core.stewardship import deceased_still_enrolled

    open_enrolments = deceased_still_enrolled(
        registry.box.host.store, registry.box.host.core.settings
    )
    assert (f"p:NID:{n}", "PA") in {(k, e.programme_identifier) for k, e in open_enrolments}


def test_7_benefits_correct_reverse_and_stay_decimal(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    n = nid(11)

    def with_benefit(amount: str, payment_status: str | None = None) -> dict:
        record = person(n, programme="PA", record_id=f"R-{n}", benefits=())
        benefit: dict = {
            "benefit_type": "1",
            "benefit_date": "2024-05-02",
            "period_start": "2024-05-01",
            "period_end": "2024-05-31",
            "benefit_value": {"amount": amount, "currency": "KES"},
        }
        if payment_status is not None:
            benefit["disbursement"] = {
                "payment_status": payment_status,
                "disbursement_date": "2024-05-03",
            }
        record["programme_identifier"][0]["benefits"] = [benefit]
        return record

    push(a, with_benefit("50.00"))
    push(a, with_benefit("55.00"))
    assert push(a, with_benefit("-5.00"))[0]["status"] == "rjct"
    assert push(a, with_benefit("55.00", payment_status="5"))[0]["status"] == "succ"
    key = f"p:NID:{n}|PA|R-{n}"
    with registry.box.host.store.transaction() as tx:
        (stored,) = tx.load_beneficiaries([f"p:NID:{n}"])
        history = tx.benefit_history(key)
    (_, _, benefits) = stored.enrolments[0]
    assert len(benefits) == 1
    assert benefits[0].amount == Decimal("55.00")
    assert benefits[0].payment_status == "5"
    # History holds the changes; the first state is the first change's previous amount.
    assert [h.change for h in history] == ["corrected", "reversed"]
    assert history[0].previous_amount == Decimal("50.00")


def test_8_region_is_searchable_and_moves_are_kept(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    n, region = nid(12), f"R{nid(12)}"
    push(a, person(n, programme="PA", region=region, district=f"{region}-D1"))
    push(
        a,
        person(
            n,
            programme="PA",
            region=f"{region}X",
            district=f"{region}X-D1",
            status_change_date="2024-06-01",
        ),
    )
    found = records(search(a, "predicate", where(("region_code", "eq", f"{region}X"))))
    assert len(found) == 1
    assert records(search(a, "predicate", where(("region_code", "eq", region)))) == []
    with registry.box.host.store.transaction() as tx:
        moves = tx.area_history(f"p:NID:{n}")
    assert [m.area_code for m in moves] == [f"{region}-D1", f"{region}X-D1"]


def test_9_reads_are_scoped_to_the_clients_programmes(registry: Registry) -> None:
    x = registry.spmis("px", ("PX",))
    y = registry.spmis("py", ("PY",))
    both, y_only = nid(13), nid(14)
    push(x, person(both, programme="PX"))
    push(y, person(both, programme="PY"))
    push(y, person(y_only, programme="PY"))
    (record,) = records(search(x, "idtype-value", {"type": "NID", "value": both}))
    assert [e["programme"]["programme_identifier"] for e in record["programme_identifier"]] == [
        "PX"
    ]
    assert records(search(x, "idtype-value", {"type": "NID", "value": y_only})) == []
    # The enrolled check still answers across programmes (data minimisation: yes/no only).
    assert enrolled(x, y_only) == "yes"


def test_10_purposes_are_registered_per_client(registry: Registry) -> None:
    x = registry.spmis("px", ("PX",), purposes=frozenset({"social-protection"}))
    n = nid(15)
    push(x, person(n, programme="PX"))
    query = {"type": "NID", "value": n}
    marketing = {"purpose": {"code": "marketing"}}
    refused = search(x, "idtype-value", query, consent=marketing)
    assert refused["status"] == "rjct"
    assert "purpose" in refused["status_reason_message"]
    allowed = {"purpose": {"code": "social-protection"}}
    assert len(records(search(x, "idtype-value", query, consent=allowed))) == 1


def test_11_every_searchable_attribute_sorts_and_dates_are_utc(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    n1, n2 = nid(16), nid(17)
    push(a, person(n1, programme="PA", record_id=f"B-{n1}", enrolment_date="2024-01-01"))
    push(a, person(n2, programme="PA", record_id=f"B-{n2}", enrolment_date="2024-03-01"))
    by_record = records(
        search(a, "predicate", where(("beneficiary_programme_id", "eq", f"B-{n2}")))
    )
    assert len(by_record) == 1
    unit = search(a, "predicate", where(("assistance_unit", "eq", "1")))
    assert unit["status"] == "succ"
    sort = [{"attribute_name": "enrolment_date", "sort_order": "desc"}]
    both = where(("identifier_value", "eq", n1), ("identifier_value", "eq", n2), condition="or")
    ordered = records(search(a, "predicate", both, sort=sort))
    firsts = [r["member"]["member_identifier"][0]["identifier_value"] for r in ordered]
    assert firsts == [n2, n1]
    # 2024-02-29T23:30-05:00 is 2024-03-01 in UTC: n2 enrolled on or after it.
    late = [*both, *where(("enrolment_date", "ge", "2024-02-29T23:30:00-05:00"))]
    late[1]["seq_num"] = 2
    found = records(search(a, "predicate", late))
    assert [r["member"]["member_identifier"][0]["identifier_value"] for r in found] == [n2]
    recent = search(a, "predicate", where(("last_updated", "ge", "2024-01-01")))
    assert recent["status"] == "succ"


def test_as_of_answers_who_was_enrolled_on_a_date(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    n = nid(18)
    push(a, person(n, programme="PA", enrolment_date="2024-01-01"))
    push(a, person(n, programme="PA", status="5", status_change_date="2024-03-01"))
    active = where(("identifier_value", "eq", n), ("enrolment_status", "eq", "1"))
    assert len(records(search(a, "predicate", active, as_of="2024-02-01"))) == 1
    assert records(search(a, "predicate", active, as_of="2024-04-01")) == []
    assert records(search(a, "predicate", active, as_of="2023-12-31")) == []
    assert records(search(a, "predicate", active)) == []


def test_areas_at_every_level_are_searchable(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    n, region = nid(19), f"R{nid(19)}"
    push(a, person(n, programme="PA", region=region, district=f"{region}-D2"))
    for attribute, value in (
        ("sub_region_code", f"{region}-D2"),
        ("area_code", region),
        ("area_code", f"{region}-D2"),
    ):
        found = records(search(a, "predicate", where((attribute, "eq", value))))
        assert len(found) == 1, (attribute, value)
    assert records(search(a, "predicate", where(("area_code", "eq", f"{region}-D9")))) == []


def test_a_rejected_item_names_the_field_and_rule_never_the_value(registry: Registry) -> None:
    a = registry.spmis("pa", ("PA",))
    record = person(nid(20), programme="PA")
    record["member"]["demographic_info"]["sex"] = "SECRET-VALUE-1979"
    record["member"]["demographic_info"]["birth_date"] = "1979-13-45"
    (item,) = push(a, record)
    assert item["status"] == "rjct"
    assert "SECRET-VALUE" not in item["status_reason_message"]
    assert "1979-13-45" not in item["status_reason_message"]
    assert "member.demographic_info" in item["status_reason_message"]
