"""Coverage, transitions and feed quality on a registry small enough to count by hand, and
invariants on the mock population."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ibr_protocol.check_digits import verhoeff_valid
from ibr_service.analytics import coverage
from ibr_service.analytics.frames import COLUMNS, RegistryFrames
from ibr_service.analytics.quality import feed_quality
from ibr_service.analytics.transitions import transitions
from ibr_service.core.identity import IdentifierTypes

from .conftest import Population

AS_OF = dt.date(2025, 6, 30)


def frame(table: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame([{c: row.get(c) for c in COLUMNS[table]} for row in rows])


def person(key: str, sex: str, born: str, area: str = "R1") -> dict[str, object]:
    return {"subject_key": key, "kind": "person", "sex": sex, "birth_date": born,
            "area_code": area, "area_level_1": area}  # fmt: skip


def enrolment(key: str, programme: str, status: str = "1", **dates: str) -> dict[str, object]:
    return {"subject_key": key, "enrolment_key": f"{key}|{programme}",
            "programme_identifier": programme, "beneficiary_programme_id": f"{programme}-{key}",
            "enrolment_status": status, "sender_id": "S", **dates}  # fmt: skip


@pytest.fixture
def tiny() -> RegistryFrames:
    """A household h (a, b, c) in CCT; a also in OAP; d alone in OAP then (closed) in DSG."""
    subjects = [
        person("a", "female", "1950-01-01"),
        person("b", "male", "1990-06-01"),
        person("c", "female", "2022-03-01"),
        person("d", "male", "1940-01-01", "R2"),
        {"subject_key": "h", "kind": "group", "area_code": "R1", "area_level_1": "R1"},
    ]
    enrolments = [
        enrolment("h", "CCT", enrolment_date="2020-01-01"),
        enrolment("a", "OAP", enrolment_date="2021-01-01"),
        enrolment("d", "DSG", "3", enrolment_date="2019-01-01", status_change_date="2024-01-10"),
        enrolment("d", "OAP", enrolment_date="2024-03-01"),
    ]
    benefits = [
        {"subject_key": "h", "enrolment_key": "h|CCT", "benefit_key": "1",
         "programme_identifier": "CCT", "amount": 90, "currency": "KES",
         "period_start": "2024-01-01", "period_end": "2024-01-31"},
        {"subject_key": "h", "enrolment_key": "h|CCT", "benefit_key": "2",
         "programme_identifier": "CCT", "amount": 60, "currency": "KES",
         "period_start": "2024-02-01", "period_end": "2024-02-28", "payment_status": "4"},
        {"subject_key": "a", "enrolment_key": "a|OAP", "benefit_key": "3",
         "programme_identifier": "OAP", "amount": 20, "currency": "KES",
         "period_start": "2024-01-01", "period_end": "2024-01-31"},
    ]  # fmt: skip
    return RegistryFrames(
        subjects=frame("subjects", subjects),
        identifiers=frame("identifiers", [
            {"subject_key": "a", "identifier_type": "NID", "identifier_value": "2234567892"},
            {"subject_key": "b", "identifier_type": "NID", "identifier_value": "2234567893"},
        ]),
        memberships=frame("memberships", [{"subject_key": "h", "member_key": m} for m in "abc"]),
        enrolments=frame("enrolments", enrolments),
        benefits=frame("benefits", benefits),
        identifier_checks=frame("identifier_checks", [  # b's NID, sent with h, failed
            {"subject_key": "a", "sender_id": "S", "programme_identifier": "OAP",
             "identifier_type": "NID", "passed": True},
            {"subject_key": "b", "sender_id": "S", "programme_identifier": "CCT",
             "identifier_type": "NID", "passed": False},
        ]),
    )  # fmt: skip


def test_a_household_enrolment_reaches_its_members(tiny: RegistryFrames) -> None:
    snapshot = coverage.enrolment_snapshot(tiny, 1, AS_OF)
    cct = snapshot[snapshot["programme"] == "CCT"].set_index(["sex", "age_band"])
    assert cct["beneficiaries"].to_dict() == {
        ("female", "0-4"): 1, ("female", "65-79"): 1, ("male", "35-59"): 1,
    }  # fmt: skip
    assert set(cct["households"]) == {1}
    oap = snapshot[snapshot["programme"] == "OAP"]
    assert oap["beneficiaries"].sum() == 2
    assert oap.loc[oap["area"] == "R1", "households"].sum() == 1, "a's household counts for OAP"


def test_value_is_shared_per_member_and_cancelled_payments_do_not_count(
    tiny: RegistryFrames,
) -> None:
    cube = coverage.benefit_cube(tiny, 1, "month")
    cct = cube[cube["programme"] == "CCT"]
    assert set(cct["period"]) == {"2024-01"}, "the cancelled February payment is left out"
    assert cct["benefit_value"].tolist() == pytest.approx([30, 30, 30])
    assert cube["benefit_value"].sum() == pytest.approx(110)


def test_multiplicity_and_overlap_matrix(tiny: RegistryFrames) -> None:
    counts = coverage.programme_multiplicity(tiny).set_index("programmes")["people"]
    assert counts.to_dict() == {"1": 3, "2": 1, "3+": 0}
    matrix = coverage.overlap_matrix(tiny)
    assert matrix.loc["CCT", "OAP"] == matrix.loc["OAP", "CCT"] == 1
    assert matrix.loc["OAP", "OAP"] == 2


def test_coverage_share_of_a_reference_population(tiny: RegistryFrames) -> None:
    reference = pd.DataFrame(
        {
            "area_code": ["R1", "R2"],
            "sex": ["female", "male"],
            "age_band": ["65-79", "80+"],
            "population": [4, 10],
        }
    )
    share = coverage.coverage_share(tiny, reference, 1, AS_OF).set_index("area")
    assert share.loc["R1", "coverage"] == 0.25
    assert share.loc["R2", "coverage"] == 0.1


def test_transitions_find_the_next_programme_within_the_window(tiny: RegistryFrames) -> None:
    moves = transitions(tiny, months=6, as_of=AS_OF)
    assert moves[["person_key", "from", "to"]].values.tolist() == [["d", "DSG", "OAP"]]
    assert transitions(tiny, months=1, as_of=AS_OF)["to"].tolist() == ["none"]
    assert transitions(tiny, months=1, as_of=dt.date(2024, 2, 1))["to"].tolist() == ["pending"]


def test_feed_quality_counts_fields_and_check_digits(tiny: RegistryFrames) -> None:
    assert verhoeff_valid("2234567892")
    assert not verhoeff_valid("2234567893")
    assert not verhoeff_valid("22345678x2")
    verhoeff_nid = IdentifierTypes.from_config([{"code": "NID", "check_digit": "verhoeff"}])
    feeds = feed_quality(tiny, AS_OF, identifier_types=verhoeff_nid).set_index("programme")
    assert feeds.loc["CCT", "with_identifier"] == 0, "the household has no identifier"
    assert feeds.loc["OAP", "with_identifier"] == 0.5
    assert feeds.loc["OAP", ["NID_sent", "NID_valid"]].tolist() == [1, 1.0]
    assert feeds.loc["CCT", ["NID_sent", "NID_valid"]].tolist() == [1, 0.0], "member b's NID"
    assert feeds.loc["DSG", "NID_sent"] == 0
    assert pd.isna(feeds.loc["DSG", "NID_valid"])
    defaults = feed_quality(tiny, AS_OF).columns  # no check digits: keyed tokens' form only
    checked = [column for column in defaults if column.endswith(("_sent", "_valid"))]
    assert checked == ["HMAC_SHA256_sent", "HMAC_SHA256_valid"]
    assert feeds.loc["OAP", "days_since_last_event"] == (AS_OF - dt.date(2024, 3, 1)).days


def test_on_mock_data_value_adds_up_and_every_active_person_is_counted(mock: Population) -> None:
    cube = coverage.benefit_cube(mock.frames, 2, "quarter")
    paid = mock.frames.benefits.groupby("programme_identifier")["amount"].sum()
    by_programme = cube.groupby("programme")["benefit_value"].sum()
    pd.testing.assert_series_equal(
        by_programme.sort_index(), paid.sort_index(), check_names=False, rtol=1e-9
    )
    snapshot = coverage.enrolment_snapshot(mock.frames, 2, AS_OF)
    reached = coverage.reach(mock.frames)
    active = reached[reached["enrolment_status"] == "1"]
    expected = active.groupby("programme_identifier")["person_key"].nunique()
    assert snapshot.groupby("programme")["beneficiaries"].sum().to_dict() == expected.to_dict()
