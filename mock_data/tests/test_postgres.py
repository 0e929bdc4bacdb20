"""The PostgreSQL load path: COPY into the `ibr_mock` staging schema of a database
`ibr_test_mock_<random>` of its own (dropped after the module)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ibr_mock_data import GeneratorConfig, write_population
from ibr_service.store_sql.scratch import scratch_database

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _server_up() -> bool:
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    if not _server_up() and shutil.which("pg_ctlcluster"):
        version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
        )
    if not _server_up():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with scratch_database("ibr_test_mock") as url:
        yield url.replace("postgresql+psycopg://", "postgresql://")


@pytest.mark.postgres
def test_postgres_load_matches_the_csv_output(database: str, tmp_path: Path) -> None:
    """COPY loads every row the CSV files hold, with keys; a dropped block would show here."""
    config = GeneratorConfig(seed=5, people=2000, block_people=500)
    summary = write_population(
        config, tmp_path, ["csv", "postgres"], database_url=database, workers=2
    )
    with psycopg.connect(database) as connection:
        count = {
            table: connection.execute(f"SELECT count(*) FROM ibr_mock.{table}").fetchone()[0]  # noqa: S608
            for table in ("persons", "households", "enrolments", "benefits", "truth")
        }
        assert count["persons"] == summary.people == 2000
        assert count["households"] == summary.households
        assert count["enrolments"] == summary.records
        assert count["benefits"] == summary.benefits
        assert count["truth"] == summary.truth_cases
        orphans = connection.execute(
            "SELECT count(*) FROM ibr_mock.benefits b"
            " LEFT JOIN ibr_mock.enrolments e USING (record_id) WHERE e.record_id IS NULL"
        ).fetchone()[0]
        assert orphans == 0
        keys = connection.execute(
            "SELECT count(*) FROM information_schema.table_constraints"
            " WHERE table_schema = 'ibr_mock' AND constraint_type = 'PRIMARY KEY'"
        ).fetchone()[0]
        assert keys == 6
    csv_benefits = (tmp_path / "csv/benefits.csv").read_text(encoding="utf-8").count("\n") - 1
    assert csv_benefits == summary.benefits
