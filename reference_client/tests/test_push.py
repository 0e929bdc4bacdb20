"""Pushing files: CSV/JSONL reading, batching, resuming without duplicates, rejections and
Ctrl-C on the command line."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import ibr_protocol as proto
from ibr_client import ConfigError, IbrClient, TransportError, push_file
from ibr_client.cli import app
from ibr_client.push import CSV_COLUMNS, read_records, source_key

from .conftest import cli_env

runner = CliRunner()
IBR_CLIENT_BIN = str(Path(sys.executable).with_name("ibr-client"))


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


def _reject_nids(fake_ibr: Any, nids: set[str], code: str = "rjct.programme.not_allowed") -> None:
    """Make the fake IBR reject the items of these people (the other items are accepted)."""

    def answer(path: str, envelope: dict[str, Any]) -> httpx.Response | None:
        if path != "/registry/sync/enrollment/updates" or not nids:
            return None
        message = envelope["message"]
        items = []
        for beneficiary in message["enrolled_updates"]["beneficiaries"]:
            nid = beneficiary["member"]["member_identifier"][0]["identifier_value"]
            item = {"reference_id": beneficiary["reference_id"], "timestamp": _now()}
            if nid in nids:
                item.update(
                    status="rjct", status_reason_code=code, status_reason_message="not yours"
                )
            else:
                fake_ibr.items_received += 1
                item["status"] = "succ"
            items.append(item)
        answer = {
            "transaction_id": message["transaction_id"],
            "correlation_id": "c-1",
            "enrolled_response": items,
        }
        return httpx.Response(200, json=fake_ibr.signed_callback("notify", answer))

    fake_ibr.answer_override = answer


def _now() -> str:
    return proto.format_timestamp(None)


def test_batches_with_rejected_items_are_not_checkpointed(
    tmp_path: Path, make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, a batch whose items the IBR rejected is recorded as done, so after the
    cause is fixed a rerun of the same file pushes nothing and the records never arrive."""
    source = _write_csv(tmp_path / "people.csv", 4)  # NIDs 1000..1003, batches of 2
    _reject_nids(fake_ibr, {"1002"})
    with _client(make_config, fake_ibr) as client:
        first = push_file(client, source, batch_size=2)
        assert client.hub.store.completed_batches(source_key(source, 2)) == {0}
        assert (first.items_rejected, first.batches_with_rejections) == (1, 1)
        assert first.rejections_by_code() == {"rjct.programme.not_allowed": 1}
        assert first.batches_done == 1

        _reject_nids(fake_ibr, set())  # the cause is fixed at the IBR
        second = push_file(client, source, batch_size=2)
    assert (second.batches_skipped, second.batches_sent, second.items_rejected) == (1, 1, 0)
    assert fake_ibr.items_received == 3 + 2, "the second batch must be sent again, whole"


def test_push_command_exits_non_zero_with_a_summary_of_rejections(
    tmp_path: Path, sp_key: Any, fake_ibr: Any, fake_ibr_url: str
) -> None:
    """If this fails, `ibr-client push` reports success (exit 0) while the IBR rejected
    records, so scripts and operators do not notice; --allow-rejections must give 0."""
    source = _write_csv(tmp_path / "people.csv", 3)
    _reject_nids(fake_ibr, {"1000", "1002"})
    env = cli_env(tmp_path, sp_key, fake_ibr_url)
    result = runner.invoke(app, ["push", str(source), "--batch-size", "2"], env=env)
    assert result.exit_code == 1, result.output
    assert "2 item(s) rejected" in result.stdout
    assert "2 rejected with rjct.programme.not_allowed" in result.stdout
    [error] = result.stderr.strip().splitlines()
    assert error.startswith("error: 2 item(s) rejected; their 2 batch(es) are not marked done")
    assert f"ibr-client push {source} --batch-size 2" in error

    allowed = runner.invoke(
        app, ["push", str(source), "--batch-size", "2", "--allow-rejections"], env=env
    )
    assert allowed.exit_code == 0, allowed.output
    assert "0 batch(es) already done; 2 item(s) rejected" in allowed.stdout


def test_ctrl_c_during_a_push_says_how_to_resume(
    tmp_path: Path, sp_key: Any, fake_ibr: Any, fake_ibr_url: str
) -> None:
    """If this fails, Ctrl-C during `ibr-client push` exits silently or with a traceback and the
    operator does not know that running the same command again resumes the push."""
    source = _write_csv(tmp_path / "people.csv", 6)
    second_batch_arrived, release = threading.Event(), threading.Event()
    updates: list[str] = []

    def hold_second_batch(path: str, envelope: dict[str, Any]) -> None:
        if path == "/registry/sync/enrollment/updates":
            updates.append(envelope["message"]["transaction_id"])
            if len(updates) == 2:
                second_batch_arrived.set()
                release.wait(30)

    fake_ibr.answer_override = hold_second_batch
    env = {**os.environ, **cli_env(tmp_path, sp_key, fake_ibr_url), "NO_COLOR": "1"}
    command = [IBR_CLIENT_BIN, "push", str(source), "--batch-size", "2"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert second_batch_arrived.wait(60), "the push never sent its second batch"
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _, stderr = process.communicate(timeout=60)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert line == (
        f"interrupted: 1 of 3 batch(es) done; to resume, run: ibr-client push {source} "
        "--batch-size 2"
    )

    resumed = runner.invoke(app, ["push", str(source), "--batch-size", "2"], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert "pushed 4 record(s) in 2 batch(es); 1 batch(es) already done" in resumed.stdout
    assert updates[2] == updates[1], "the interrupted batch is resent under the same transaction"
