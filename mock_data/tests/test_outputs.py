"""Every output kind is produced, consistent with itself, and byte-identical for the same seed."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ibr_mock_data import (
    GeneratorConfig,
    enrollment_update_batches,
    follow_up_stream,
    small_population,
    write_population,
)
from ibr_mock_data.cli import app
from ibr_mock_data.tables import COLUMNS

CONFIG = GeneratorConfig(seed=11, people=1200, block_people=300)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mock")
    write_population(CONFIG, out, ["csv", "jsonl", "envelopes"], batch_size=50, workers=1)
    return out


def test_same_seed_gives_identical_bytes_with_any_worker_count(
    written: Path, tmp_path: Path
) -> None:
    """Parallel generation writes exactly the serial bytes; else fixtures drift between runs."""
    write_population(CONFIG, tmp_path, ["csv", "jsonl", "envelopes"], batch_size=50, workers=2)
    assert _digests(tmp_path) == _digests(written)


def test_another_seed_gives_other_data(written: Path, tmp_path: Path) -> None:
    """The seed matters (a constant seed inside would make every 'random' dataset the same)."""
    write_population(CONFIG.model_copy(update={"seed": 12}), tmp_path, ["csv"], workers=1)
    assert (tmp_path / "csv/persons.csv").read_bytes() != (written / "csv/persons.csv").read_bytes()


def test_each_output_kind_is_written(written: Path) -> None:
    """CSV and JSONL per entity, canonical JSONL, envelopes and the truth file all exist."""
    for entity in COLUMNS:
        assert (written / f"csv/{entity}.csv").stat().st_size > 0
        assert (written / f"jsonl/{entity}.jsonl").stat().st_size > 0
    assert (written / "jsonl/beneficiaries.jsonl").stat().st_size > 0
    assert (written / "truth.jsonl").stat().st_size > 0
    assert list((written / "envelopes").glob("enrollment_updates_*.json"))


def test_tables_agree_with_each_other(written: Path) -> None:
    """People, records, benefits and envelopes line up; a lost block would break the counts."""

    def read(entity: str) -> list[dict[str, str]]:
        with (written / f"csv/{entity}.csv").open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    persons, enrolments, benefits = read("persons"), read("enrolments"), read("benefits")
    assert len(persons) == CONFIG.people
    assert len({p["person_id"] for p in persons}) == CONFIG.people
    record_ids = {e["record_id"] for e in enrolments}
    assert len(record_ids) == len(enrolments)
    assert {b["record_id"] for b in benefits} <= record_ids
    canonical = (written / "jsonl/beneficiaries.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(canonical) == len(enrolments)
    updates = (written / "jsonl/updates.jsonl").read_text(encoding="utf-8").splitlines()
    in_envelopes = {"enrollment": 0, "update": 0}
    receipt_types = []
    for path in sorted((written / "envelopes").glob("*.json")):
        message = json.loads(path.read_text(encoding="utf-8"))["message"]["enrolled_updates"]
        in_envelopes[message["receipt_type"]] += len(message["beneficiaries"])
        receipt_types.append(message["receipt_type"])
    assert in_envelopes == {"enrollment": len(enrolments), "update": len(updates)}
    # Follow-ups are numbered after every base batch, so pushing files in name order is right.
    assert receipt_types == sorted(receipt_types)
    assert updates
    jsonl_persons = (written / "jsonl/persons.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(jsonl_persons[0])["person_id"] == persons[0]["person_id"]


def test_follow_up_file_is_the_library_stream(written: Path) -> None:
    """`jsonl/updates.jsonl` holds exactly `follow_up_stream(config)`, in the same push order,
    so a consumer of either gets the same messages."""
    lines = (written / "jsonl/updates.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(follow_up_stream(CONFIG))
    assert all(set(json.loads(line)) == {"case_id", "step", "beneficiary"} for line in lines)


def test_follow_up_batches_numbered_after_the_base_ones_get_their_own_ids() -> None:
    """Numbering follow-up batches after the base batches gives them fresh message ids, so an
    IBR's replay guard does not drop them."""
    pop = small_population(seed=4, people=500)
    base = list(enrollment_update_batches(pop.beneficiaries, 100, "S", "I", seed=4))
    updates = [u["beneficiary"] for u in pop.updates]
    follow = list(
        enrollment_update_batches(
            updates, 100, "S", "I", receipt_type="update", seed=4, first_number=len(base) + 1
        )
    )
    ids = [e["header"]["message_id"] for e in base + follow]
    assert len(set(ids)) == len(ids)
    assert follow[0]["message"]["enrolled_updates"]["beneficiaries"][0]["reference_id"] == (
        f"{len(base) + 1}-1"
    )


def test_cli_generate_writes_outputs_and_prints_summary(tmp_path: Path) -> None:
    """`ibr-mock generate` works end to end and reports counts as JSON."""
    result = CliRunner().invoke(
        app,
        ["generate", "--out", str(tmp_path), "--people", "300", "-f", "csv", "-f", "envelopes",
         "--batch-size", "10", "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["people"] == 300
    assert summary["envelopes"] == len(list((tmp_path / "envelopes").glob("*.json")))
    assert (tmp_path / "csv/benefits.csv").exists()


def test_cli_rejects_unknown_format(tmp_path: Path) -> None:
    """A typo in --format names the valid choices instead of silently writing nothing."""
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "-f", "xml"])
    assert result.exit_code != 0
    text = " ".join(result.output.replace("│", " ").split())
    assert "valid formats are csv, jsonl, envelopes, postgres" in text


def test_cli_check_id_exit_code() -> None:
    """check-id fails on a mistyped ID, so scripts can rely on the exit code."""
    runner = CliRunner()
    assert runner.invoke(app, ["check-id", "223456789018"]).exit_code == 0
    assert runner.invoke(app, ["check-id", "223456789019"]).exit_code == 1


def test_cli_bad_snapshot_date_is_one_clear_line(tmp_path: Path) -> None:
    """A mistyped --as-of names the option and the expected form instead of a traceback."""
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--as-of", "2025-13-01"])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert "'2025-13-01': expected a date YYYY-MM-DD" in text
    assert "--as-of" in text
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_rate_option_sets_a_kind(tmp_path: Path) -> None:
    """--rate KIND=RATE reaches the generator (0 turns a kind off) and a bad one is refused."""
    runner = CliRunner()
    args = ["generate", "--out", str(tmp_path), "--people", "600", "-f", "jsonl", "--workers", "1"]
    result = runner.invoke(app, [*args, "--rate", "stale_update=0"])
    assert result.exit_code == 0, result.output
    kinds = {json.loads(line)["kind"] for line in (tmp_path / "truth.jsonl").open()}
    assert "stale_update" not in kinds
    assert "area_move" in kinds
    bad = runner.invoke(app, [*args, "--rate", "stale=0.1"])
    assert bad.exit_code == 2
    assert "expected KIND=RATE" in " ".join(bad.output.replace("│", " ").split())
