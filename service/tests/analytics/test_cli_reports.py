"""`ibr report ...` end to end on a JSONL file of mock records: formats, scores, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ibr_mock_data import identifier_types_file
from ibr_service.analytics.scoring import truth_pairs
from ibr_service.cli import app

from .conftest import Population

MOCK_TYPES = identifier_types_file()


@pytest.fixture(scope="module")
def files(mock: Population, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mock")
    records = folder / "beneficiaries.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in mock.records))
    truth = folder / "truth.jsonl"
    truth.write_text("".join(json.dumps(c) + "\n" for c in mock.truth))
    return {"records": records, "truth": truth}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args], env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def test_overlaps_as_json_on_stdout(files: dict[str, Path], mock: Population) -> None:
    code, out, _ = run("overlaps", "--jsonl", str(files["records"]))
    assert code == 0
    report = json.loads(out)
    found = {frozenset((r["record_a"], r["record_b"])) for r in report["tables"]["overlaps"]}
    assert found == truth_pairs(mock.truth, "cross_programme_overlap")
    assert report["summary"]["overlaps"] == len(found)


def test_duplicates_with_truth_print_precision_recall_and_f1(
    files: dict[str, Path], tmp_path: Path
) -> None:
    model = tmp_path / "model.json"
    code, out, err = run(
        "duplicates", "--jsonl", str(files["records"]), "--truth", str(files["truth"]),
        "--save-model", str(model),
    )  # fmt: skip
    assert code == 0, err
    lines = [line for line in err.splitlines() if "precision" in line]
    assert [line.split(":")[0] for line in lines] == ["duplicate_in_programme", "fuzzy_duplicate"]
    scores = {s["kind"]: s for s in json.loads(out)["summary"]["scores"]}
    assert scores["duplicate_in_programme"]["f1"] == 1.0
    assert scores["fuzzy_duplicate"]["precision"] >= 0.9
    assert scores["fuzzy_duplicate"]["recall"] >= 0.9

    code, again, err = run("duplicates", "--jsonl", str(files["records"]), "--model", str(model))
    assert code == 0, err
    assert json.loads(again)["tables"]["probable"] == json.loads(out)["tables"]["probable"]
    # The saved model is what scores: one that believes matches impossible finds none.
    sceptic = json.loads(model.read_text()) | {"probability_two_random_records_match": 1e-30}
    model.write_text(json.dumps(sceptic))
    code, none, err = run("duplicates", "--jsonl", str(files["records"]), "--model", str(model))
    assert code == 0, err
    assert json.loads(none)["tables"]["probable"] == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_coverage_tables_as_files(files: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"coverage.{fmt}"
    code, _, err = run(
        "coverage", "--jsonl", str(files["records"]), "--as-of", "2025-06-30",
        "--format", fmt, "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    snapshot = read(out)
    assert {"programme", "area", "sex", "age_band", "beneficiaries", "suppressed"} <= set(
        snapshot.columns
    )
    published = snapshot["beneficiaries"].dropna()
    assert ((published == 0) | (published >= 10)).all(), "a cell under k left the system"
    by_area = read(tmp_path / f"coverage.by_area.{fmt}")
    assert "Total" in set(by_area["programme"])


def test_transitions_and_quality_answer(files: dict[str, Path]) -> None:
    code, out, _ = run("transitions", "--jsonl", str(files["records"]), "--as-of", "2025-06-30")
    assert code == 0
    table = json.loads(out)["tables"]["transitions"]
    assert {"from", "none", "Total"} <= set(table[0])
    quality = ("quality", "--jsonl", str(files["records"]), "--as-of", "2025-06-30")
    code, out, _ = run(*quality, env={"IBR_IDENTIFIER_TYPES_FILE": str(MOCK_TYPES)})
    assert code == 0
    report = json.loads(out)
    assert report["summary"]["checked_identifier_types"] == ["NID", "HMAC_SHA256"]
    feeds = report["tables"]["feeds"]
    assert {f["programme"] for f in feeds} == {"OAP", "DSG", "CSP", "CCT", "FOOD", "CHG", "PWP"}
    assert all(0.9 <= f["NID_valid"] <= 1 for f in feeds if f["NID_sent"])
    assert any(f["NID_valid"] < 1 for f in feeds if f["NID_sent"]), "mock data plants bad ones"
    code, _, err = run(*quality, env={"IBR_IDENTIFIER_TYPES_FILE": "/no/types.yaml"})
    assert (code, err.count("\n")) == (2, 1)
    assert "/no/types.yaml" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["overlaps", "--jsonl", "/nonexistent.jsonl"], "cannot read /nonexistent.jsonl"),
        (["coverage", "--jsonl", "{records}", "--format", "parquet"], "needs --out PATH"),
        (["coverage", "--jsonl", "{records}", "--format", "xml"], "unknown format 'xml'"),
        (["coverage", "--jsonl", "{records}", "--as-of", "June"], "is not a date"),
        (["coverage", "--jsonl", "{records}", "--level", "7"], "area level must be 1 to 4"),
        (["coverage", "--jsonl", "{records}", "--reference", "/no.csv"], "cannot read reference"),
        (["overlaps", "--jsonl", "{records}", "--rules", "{truth}"], "not valid YAML"),
        (["duplicates", "--jsonl", "{records}", "--threshold", "2"], "--threshold must be"),
        (["duplicates", "--jsonl", "{records}", "--model", "/no/m.json"], "cannot read linkage"),
        (["duplicates", "--jsonl", "{records}", "--model", "{truth}"], "not a linkage model"),
        (["transitions", "--jsonl", "{records}", "--months", "0"], "--months must be"),
        (["coverage", "--jsonl", "{records}", "--out", "/no/such/dir/x.json"], "does not exist"),
    ],
)
def test_bad_input_is_one_line(files: dict[str, Path], args: list[str], message: str) -> None:
    args = [a.format(records=files["records"], truth=files["truth"]) for a in args]
    code, _, err = run(*args)
    assert code == 2
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1, err


@pytest.mark.parametrize("command", ["coverage", "overlaps", "snapshot"])
def test_a_database_without_the_registry_tables_is_one_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IBR_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, _, err = run(command)
    assert code == 2
    assert "run `ibr db upgrade`" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("command", ["overlaps", "quality"])
def test_a_database_url_that_is_not_one_is_one_line(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IBR_DATABASE_URL", "nosuchdb://x")
    code, _, err = run(command)
    assert code == 2
    assert err.startswith("error: cannot open the database")
    assert err.count("\n") == 1


def test_html_and_json_files(files: dict[str, Path], tmp_path: Path) -> None:
    page = tmp_path / "coverage.html"
    code, _, err = run(
        "coverage", "--jsonl", str(files["records"]), "--format", "html", "--out", str(page)
    )
    assert code == 0, err
    assert err == f"wrote {page}\n"
    assert 'id="coverage-by-area"' in page.read_text()
    document = tmp_path / "quality.json"
    code, out, _ = run("quality", "--jsonl", str(files["records"]), "--out", str(document))
    assert code == 0
    assert out == ""
    assert json.loads(document.read_text())["report"] == "quality"
