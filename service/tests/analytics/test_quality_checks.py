"""Identifier validity per feed on the registry itself: identifiers whose check digit fails are
never linked, yet the quality report counts them, per checked type of the deployment's
identifier types, from the database as from the records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ibr_mock_data import identifier_types_file
from ibr_protocol.check_digits import verhoeff_check_digit
from ibr_service.analytics.from_records import frames_from_records
from ibr_service.analytics.quality import feed_quality
from ibr_service.analytics.sql_source import frames_from_engine
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.identity import IdentifierTypes, load_identifier_types
from ibr_service.core.records import IdentifierRecord
from ibr_service.core.samples import enrollment_message, person_beneficiary
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import population

MOCK_TYPES = identifier_types_file()
FEED = ["sender_id", "programme"]


def valid_nid(stem: str) -> str:
    return stem + verhoeff_check_digit(stem)


def invalid_nid(stem: str) -> str:
    return stem + str((int(verhoeff_check_digit(stem)) + 1) % 10)


@pytest.fixture(scope="module")
def types() -> IdentifierTypes:
    return load_identifier_types(MOCK_TYPES)


def registry(tmp_path: Path, types: IdentifierTypes) -> tuple[SqlStore, IbrCore]:
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    return store, IbrCore(store, settings=CoreSettings(receiver_id="IBR", identifier_types=types))


def publish(core: IbrCore, sender: str, records: list[dict], batch: str = "T-1") -> None:
    message = enrollment_message(records, batch)
    answer = core.enrollment_updates(message, caller=Caller(sender))
    assert {item["status"] for item in answer["enrolled_response"]} == {"succ"}, answer


def checks(table: pd.DataFrame, code: str = "NID") -> dict[tuple[str, str], tuple[int, float]]:
    rows = table[[*FEED, f"{code}_sent", f"{code}_valid"]].itertuples(index=False, name=None)
    return {(s, p): (int(n), float(v)) for s, p, n, v in rows}


def test_bad_check_digits_count_per_feed_though_they_never_link(
    tmp_path: Path, types: IdentifierTypes
) -> None:
    store, core = registry(tmp_path, types)
    oap = [
        person_beneficiary(valid_nid(f"20000000{i}"), programme="OAP", record_id=f"O{i}")
        for i in range(3)
    ]
    oap.append(person_beneficiary(invalid_nid("300000000"), programme="OAP", record_id="O9"))
    publish(core, "SP-A", oap)
    # SP-B sends the first person again, once with a bad check digit beside a birth record
    # (linked by the BRN), once as SP-A did.
    dsg = [
        person_beneficiary(
            "x",
            programme="DSG",
            record_id="D1",
            identifiers=[("NID", invalid_nid("400000000")), ("BRN", "B-1")],
        ),
        person_beneficiary(valid_nid("200000000"), programme="DSG", record_id="D2"),
    ]
    publish(core, "SP-B", dsg)

    frames = frames_from_engine(store.engine)
    with store.transaction() as tx:
        bad = [IdentifierRecord("NID", invalid_nid(s)) for s in ("300000000", "400000000")]
        assert tx.subjects_by_identifiers(bad) == {}, "a bad check digit never links"
    table = feed_quality(frames, identifier_types=types)
    assert checks(table) == {("SP-A", "OAP"): (4, 0.75), ("SP-B", "DSG"): (2, 0.5)}
    assert (table["HMAC_SHA256_sent"] == 0).all()
    assert table["HMAC_SHA256_valid"].isna().all()
    by_records = frames_from_records(oap, "SP-A", types)
    assert checks(feed_quality(by_records, identifier_types=types)) == {("SP-A", "OAP"): (4, 0.75)}
    # A feed that corrects its record is counted as it is now.
    oap[3] = person_beneficiary(valid_nid("300000000"), programme="OAP", record_id="O9")
    publish(core, "SP-A", oap, "T-2")
    table = feed_quality(frames_from_engine(store.engine), identifier_types=types)
    assert checks(table)[("SP-A", "OAP")] == (4, 1.0)


def test_only_the_deployments_checked_types_are_reported(tmp_path: Path) -> None:
    luhn = IdentifierTypes.from_config([{"code": "SSN", "check_digit": "luhn"}])
    store, core = registry(tmp_path, luhn)
    bad_nid = invalid_nid("200000000")
    publish(
        core,
        "SP-A",
        [
            person_beneficiary(
                bad_nid, programme="OAP", extra_identifiers=[("SSN", "79927398713")]
            ),
            person_beneficiary(bad_nid, programme="OAP", identifiers=[("SSN", "79927398710")]),
        ],
    )
    table = feed_quality(frames_from_engine(store.engine), identifier_types=luhn)
    assert not any(column.startswith("NID_") for column in table.columns)
    assert checks(table, "SSN") == {("SP-A", "OAP"): (2, 0.5)}


def test_on_mock_data_the_registry_and_the_records_agree(
    tmp_path: Path, types: IdentifierTypes
) -> None:
    store, core = registry(tmp_path, types)
    records = population(5, 1500).records  # every item accepted
    for start in range(0, len(records), 250):
        publish(core, "SP-MIS", records[start : start + 250], f"T-{start}")
    from_store = checks(feed_quality(frames_from_engine(store.engine), identifier_types=types))
    by_records = frames_from_records(records, "SP-MIS", types)
    assert from_store == checks(feed_quality(by_records, identifier_types=types))
    sent = sum(n for n, _ in from_store.values())
    valid = sum(n * v for n, v in from_store.values() if n)
    assert sent > 500
    assert 0.9 < valid / sent < 1, "the mock data plants a few bad check digits"
