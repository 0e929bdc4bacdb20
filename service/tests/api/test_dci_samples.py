"""The DCI sample requests (processflow1 and processflow2) are accepted unchanged and answered
correctly. They carry DCI's placeholder signature and a 2023 message_ts, so they are sent to an
IBR whose strict-signature mode is off (the compatibility trial mode)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openapi_core import OpenAPI

from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import enrolled_message

from .conftest import assert_matches_openapi, fast_settings

pytestmark = pytest.mark.dci_reference


@pytest.fixture(scope="module")
def lenient_ibr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """An IBR with strict signatures off and the DCI sample's sender registered."""
    folder = tmp_path_factory.mktemp("dci")
    settings = fast_settings(f"sqlite:///{folder}/ibr.db", strict_signatures=False)
    with sandbox(settings, sender_id="SP-System") as box:
        yield box


def _sample(folder: Path, name: str) -> bytes:
    return (folder / name).read_bytes()


def test_processflow1_enrolment_is_accepted_unchanged(
    lenient_ibr: Sandbox, dci_samples: Path, openapi: OpenAPI
) -> None:
    """If this fails, a DCI-conformant SP-MIS sending the DCI sample cannot publish enrolments."""
    path = "/registry/sync/enrollment/updates"
    reply = lenient_ibr.spmis.http.post(
        f"{lenient_ibr.url}{path}",
        content=_sample(dci_samples, "processflow1req.json"),
        headers={
            "Authorization": f"Bearer {lenient_ibr.spmis.token()}",
            "Content-Type": "application/json",
        },
    )
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, path, reply)
    items = reply.json()["message"]["enrolled_response"]
    assert [item["status"] for item in items] == ["succ"], items
    # The sample's person (NID 0205202401) is now enrolled in DCI001.
    check = lenient_ibr.spmis.send(
        "/registry/sync/enrolled", "search", enrolled_message("0205202401")
    )
    assert check.json()["message"]["enrolled_response"][0]["enrolled_status"] == "yes"


def test_processflow2_enrolled_check_is_answered(
    lenient_ibr: Sandbox, dci_samples: Path, openapi: OpenAPI
) -> None:
    """If this fails, the DCI sample enrolled check is refused or answered wrongly."""
    path = "/registry/sync/enrolled"
    raw = json.loads(_sample(dci_samples, "processflow2req.json"))
    reply = lenient_ibr.spmis.http.post(
        f"{lenient_ibr.url}{path}",
        content=_sample(dci_samples, "processflow2req.json"),
        headers={
            "Authorization": f"Bearer {lenient_ibr.spmis.token()}",
            "Content-Type": "application/json",
        },
    )
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, path, reply)
    asked = raw["message"]["enrolled_criteria"]["query"]["attribute_value"]
    answer = reply.json()["message"]["enrolled_response"][0]
    # 847951632 was never published (processflow1 enrolled 0205202401): the answer is "no".
    assert asked == "847951632"
    assert answer["enrolled_status"] == "no", answer


def test_processflow2_query_finds_the_processflow1_person(
    lenient_ibr: Sandbox, dci_samples: Path
) -> None:
    """If this fails, the DCI `person_identifier` expression is parsed but never matches."""
    raw = json.loads(_sample(dci_samples, "processflow1req.json"))
    lenient_ibr.spmis.post("/registry/sync/enrollment/updates", raw)
    asking = json.loads(_sample(dci_samples, "processflow2req.json"))
    asking["header"]["message_id"] = "processflow2-with-known-person"
    asking["message"]["enrolled_criteria"]["query"]["attribute_value"] = "0205202401"
    reply = lenient_ibr.spmis.post("/registry/sync/enrolled", asking)
    assert reply.status_code == 200, reply.text
    assert reply.json()["message"]["enrolled_response"][0]["enrolled_status"] == "yes"


def test_signed_dci_variant_is_verified_as_sent(ibr: Sandbox, dci_samples: Path) -> None:
    """If this fails, the signature is checked over the normalised message instead of the bytes
    the sender signed, and every signed DCI-variant message is refused (security profile §3)."""
    from ibr_protocol import format_timestamp, sign_envelope

    variant = json.loads(_sample(dci_samples, "processflow1req.json"))
    del variant["signature"]
    variant["header"].update(
        sender_id=ibr.spmis.sender_id,
        message_id="signed-dci-variant-1",
        message_ts=format_timestamp(),
    )
    assert variant["header"]["total_count"] == "1"  # still the DCI spelling
    reply = ibr.spmis.post(
        "/registry/sync/enrollment/updates", sign_envelope(variant, ibr.spmis.private_jwk)
    )
    assert reply.status_code == 200, reply.text
    assert [i["status"] for i in reply.json()["message"]["enrolled_response"]] == ["succ"]
