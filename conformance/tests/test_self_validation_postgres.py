"""The whole IBR profile, fuzzing included, against the reference IBR on PostgreSQL.

SQLite forgives what PostgreSQL refuses (a NUL in a string reached PostgreSQL's JSON parser and
its error text came back in the answer), so the self-validation also runs the real IBR, started
through its command line, on a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ibr_conformance.config import RunConfig
from ibr_conformance.phases import Phase
from ibr_conformance.requirements import RequirementCatalogue
from ibr_conformance.results import Outcome
from ibr_conformance.runner import run
from ibr_service.store_sql.scratch import scratch_database

from .real_ibr import RealIbr, real_ibr


@pytest.fixture(scope="module")
def ibr_on_postgres(
    suite_key: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealIbr]:
    with (
        scratch_database("ibr_conf") as url,
        real_ibr(tmp_path_factory.mktemp("ibr-pg"), suite_key, database_url=url) as server,
    ):
        yield server


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_real_ibr_on_postgresql_passes_the_whole_profile(
    ibr_on_postgres: RealIbr, suite_key_file: Path, catalogue: RequirementCatalogue
) -> None:
    """If this fails, the reference IBR breaks a MUST on PostgreSQL that SQLite hides (or the
    suite gives vendors on PostgreSQL a false failure)."""
    ibr = ibr_on_postgres
    config = RunConfig.model_validate(
        {
            "base_url": ibr.url,
            "client_id": "conf-main",
            "client_secret": ibr.secrets["conf-main"],
            "second_client_id": "conf-second",
            "second_client_secret": ibr.secrets["conf-second"],
            "limited_client_id": "conf-limited",
            "limited_client_secret": ibr.secrets["conf-limited"],
            "signing_key": str(suite_key_file),
            "foreign_programme": "OTHER-PROG",
            "second_programme": "OTHER-PROG",
            "phases": tuple(Phase),
            "callback_timeout": 4.0,
            "capabilities": (
                *RunConfig.model_fields["capabilities"].default,
                "programme-isolation",
            ),
            **ibr.receiver_settings(),
        }
    )
    final = run(config, catalogue=catalogue)
    isolation = [
        r for r in final.results if r.check == "another_programme_cannot_read_enrolment_details"
    ]
    assert [r.outcome for r in isolation] == [Outcome.PASS]
    errors = [(r.check, r.reason[:300]) for r in final.results if r.outcome is Outcome.ERROR]
    assert errors == []
    failures = [
        (r.check, [(f.requirement_ids, f.title, f.message[:300], _answers(f)) for f in r.failures])
        for r in final.results
        if r.failures
    ]
    assert failures == []
    assert any(r.phase is Phase.FUZZING and r.outcome is Outcome.PASS for r in final.results)


def _answers(failure: Any) -> list[tuple[int | None, str]]:
    """What the target answered in a failure's evidence (status, body excerpt), for the log."""
    return [(e.status, str(e.response_body)[:400]) for e in failure.evidence]
