"""Which enrolment statuses count as enrolled for sync/enrolled (IBR-ENROLLED-001)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import ibr_protocol as proto
from ibr_protocol import codes
from ibr_service.core import CoreSettings, IbrCore
from ibr_service.core.samples import enrollment_message, person_beneficiary
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import SP, StepClock

# IBR-ENROLLED-001: "any status other than graduated/exited/withdrawn/deceased".
ENDED_TITLES = {"Graduated", "Exited", "Withdrawn", "Deceased"}


def test_requirement_text_names_the_ended_statuses() -> None:
    """If this fails, IBR-ENROLLED-001 was reworded and ENDED_TITLES here must follow it."""
    catalogue = yaml.safe_load((proto.spec_dir() / "requirements.yaml").read_text())
    entries = catalogue["requirements"] if isinstance(catalogue, dict) else catalogue
    [requirement] = [r for r in entries if r["id"] == "IBR-ENROLLED-001"]
    assert all(title.lower() in requirement["text"] for title in ENDED_TITLES)


def test_default_enrolled_statuses_are_every_status_but_the_ended_ones() -> None:
    """If this fails, sync/enrolled says `no` for a status the requirement counts as enrolled
    (Pending, so an overlap check misses someone about to be paid) or `yes` for an ended one."""
    every = set(codes.all_codes("enrolment_status"))
    ended = {c for c in every if codes.label_for("enrolment_status", c) in ENDED_TITLES}
    assert len(ended) == len(ENDED_TITLES)
    assert CoreSettings().enrolled_statuses == frozenset(every - ended)


@pytest.mark.parametrize(("status", "answer"), [("7", "yes"), ("4", "yes"), ("5", "no")])
def test_enrolled_check_follows_the_status(tmp_path: Path, status: str, answer: str) -> None:
    """If this fails, a Pending enrolment is reported as not enrolled (or an exited one as
    enrolled) by the enrolled check itself, not only by the setting."""
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    core = IbrCore(store, clock=StepClock(), settings=CoreSettings())
    core.enrollment_updates(
        enrollment_message([person_beneficiary("81", status=status)]), caller=SP
    )
    criteria = {
        "reference_id": "a",
        "query_type": "idtype-value",
        "query": {"type": "NID", "value": "81"},
    }
    response = core.enrolled({"transaction_id": "T", "enrolled_criteria": [criteria]}, caller=SP)
    store.engine.dispose()
    assert response["enrolled_response"][0]["enrolled_status"] == answer
