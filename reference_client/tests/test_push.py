"""Pushing files: CSV/JSONL reading, batching, and resuming without duplicates."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import ibr_protocol as proto
from ibr_client import ConfigError, IbrClient, TransportError, push_file
from ibr_client.push import CSV_COLUMNS, read_records


def _write_csv(path: Path, people: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for i in range(people):
            for month in ("2024-05-02", "2024-06-02"):
                writer.writerow(
                    {
                        "identifier_type": "NID",
                        "identifier_value": f"{1000 + i}",
                        "programme_identifier": "P1",
                        "programme_name": "Old-age pension",
                        "enrolment_date": "2024-04-12",
                        "enrolment_status": "Active",
                        "given_name": "Ama",
                        "surname": f"Person{i}",
                        "sex": "female",
                        "birth_date": "1950-01-01",
                        "benefit_type": "Cash",
                        "benefit_date": month,
                        "benefit_amount": "50.00",
                        "benefit_currency": "USD",
                        "benefit_frequency": "monthly",
                    }
                )
    return path


def _client(make_config: Any, fake_ibr: Any, **overrides: Any) -> IbrClient:
    return IbrClient(
        make_config(**overrides),
        ibr_keys=fake_ibr.keys(),
        http=httpx.Client(transport=fake_ibr.transport()),
        sleep=lambda _s: None,
    )


def test_csv_rows_become_canonical_beneficiaries(tmp_path: Path) -> None:
    """If this fails, the documented CSV columns do not produce spec-valid records."""
    records = read_records(_write_csv(tmp_path / "p.csv", 3))
    assert len(records) == 3, "two rows of one person and programme must merge into one record"
    for record in records:
        proto.validate(record, "data/beneficiary")
    benefits = records[0]["programme_identifier"][0]["benefits"]
    assert [b["benefit_date"] for b in benefits] == ["2024-05-02", "2024-06-02"]
    assert benefits[0]["benefit_type"] == "1", "the label Cash must become the code 1"
    assert len({b["benefit_id"] for b in benefits}) == 2


def test_unknown_csv_column_names_the_known_ones(tmp_path: Path) -> None:
    """If this fails, a typo in a column header silently drops data."""
    path = tmp_path / "bad.csv"
    path.write_text(
        "identifier_type,identifier_value,programme_identifier,programme_name,"
        "enrolment_date,benfit_type\nNID,1,P1,P,2024-01-01,Cash\n"
    )
    with pytest.raises(ConfigError, match=r"unknown CSV column.*benfit_type.*known: "):
        read_records(path)


def test_jsonl_variants_are_normalised(tmp_path: Path, sample_beneficiary: Any) -> None:
    """If this fails, DCI-variant exports (labels, single objects) cannot be pushed."""
    record = sample_beneficiary()
    record["programme_identifier"] = record["programme_identifier"][0]  # DCI: one object
    record["programme_identifier"]["enrolment_status"] = "Active"
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(record) + "\n\n")
    [canonical] = read_records(path)
    assert canonical["programme_identifier"][0]["enrolment_status"] == "1"


def test_interrupted_push_resumes_without_duplicates(
    tmp_path: Path, make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, an interrupted push either loses batches or counts records twice."""
    source = _write_csv(tmp_path / "people.csv", 5)
    with _client(make_config, fake_ibr, retries=0) as client:
        sent_batches: list[int] = []

        def fail_after_two(count: int, index: int) -> None:
            sent_batches.append(index)
            if index == 1:
                fake_ibr.transport_failures = 1  # the network drops during batch 3

        with pytest.raises(TransportError):
            push_file(client, source, batch_size=2, on_batch=fail_after_two)
        assert sent_batches == [0, 1]
        assert fake_ibr.items_received == 4

        report = push_file(client, source, batch_size=2)
    assert (report.batches_skipped, report.batches_sent) == (2, 1)
    assert fake_ibr.items_received == 5
    assert len(fake_ibr.upserts) == 10
    assert set(fake_ibr.upserts.values()) == {1}, "no benefit may be written twice"


def test_resent_batch_carries_the_same_ids(tmp_path: Path, make_config: Any, fake_ibr: Any) -> None:
    """If this fails, a batch resent after a crash (sent, not checkpointed) is a new one."""
    source = _write_csv(tmp_path / "people.csv", 2)
    with _client(make_config, fake_ibr) as client:
        push_file(client, source, batch_size=2)
    first = fake_ibr.requests[-1][1]["message"]
    with _client(make_config, fake_ibr, state_dir=str(tmp_path / "fresh-state")) as client:
        push_file(client, source, batch_size=2)  # no checkpoints: everything is resent
    again = fake_ibr.requests[-1][1]["message"]
    assert again["transaction_id"] == first["transaction_id"]
    ids = [b["reference_id"] for b in first["enrolled_updates"]["beneficiaries"]]
    assert ids == [b["reference_id"] for b in again["enrolled_updates"]["beneficiaries"]]
