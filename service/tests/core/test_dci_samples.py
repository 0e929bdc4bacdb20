"""The DCI sample messages (processflow1: enrolment, processflow2: enrolled) through the core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ibr_protocol import normalise_envelope
from ibr_service.core import IbrCore

from .conftest import SP

SAMPLES = (
    Path(__file__).resolve().parents[3].parent
    / "shared/reference/dci/spdci-standards/release/sample-jsons/assets/example_files/ibr"
)

pytestmark = pytest.mark.dci_reference


def _sample(name: str) -> dict[str, Any]:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"DCI reference file {path} is absent")
    envelope: dict[str, Any] = normalise_envelope(json.loads(path.read_text()))
    return envelope


def test_dci_processflow_samples_enrol_then_answer_enrolled(core: IbrCore) -> None:
    """If this fails, the DCI's own sample messages are not accepted or give wrong answers."""
    enrol = _sample("processflow1req.json")
    response = core.enrollment_updates(enrol["message"], caller=SP, header=enrol["header"])
    assert [i["status"] for i in response["enrolled_response"]] == ["succ"]
    with core.store.transaction() as tx:
        (loaded,) = tx.load_beneficiaries(["p:NID:0205202401"])
    assert loaded.enrolments[0][0].programme_identifier == "DCI001"

    check = _sample("processflow2req.json")
    answer = core.enrolled(check["message"], caller=SP, header=check["header"])
    # The sample asks about 847951632, a person processflow1 did not enrol.
    assert [i["enrolled_status"] for i in answer["enrolled_response"]] == ["no"]
    check["message"]["enrolled_criteria"]["query"]["attribute_value"] = "0205202401"
    again = core.enrolled(check["message"], caller=SP)
    assert [i["enrolled_status"] for i in again["enrolled_response"]] == ["yes"]
