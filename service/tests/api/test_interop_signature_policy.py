"""Per-client signature policy and DCI's signature string, through the running IBR in production
mode (strict signatures on): security profile §3b and §3c, IBR-SIG-010, IBR-SIG-015, IBR-SIG-016.

The DCI sample messages carry DCI's placeholder signature and a 2023 message_ts, and their sender
is `SP-System`: accepted unchanged from a client registered `optional`, refused with
`err.signature.missing` from a client registered `required`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ibr_protocol import format_timestamp, generate_signing_key, sign_envelope
from ibr_protocol.dci_signature import sign_dci
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import enrolled_message

from .conftest import fast_settings

pytestmark = pytest.mark.dci_reference

SAMPLE_SENDER = "SP-System"
UPDATES = "/registry/sync/enrollment/updates"
ENROLLED = "/registry/sync/enrolled"


def _box(tmp_path_factory: pytest.TempPathFactory, policy: str) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp(f"policy-{policy}")
    settings = fast_settings(f"sqlite:///{folder}/ibr.db")
    assert settings.strict_signatures, "production mode: strict signatures on"
    with sandbox(settings, sender_id=SAMPLE_SENDER, signature_policy=policy) as box:
        yield box


@pytest.fixture(scope="module")
def optional_ibr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from _box(tmp_path_factory, "optional")


@pytest.fixture(scope="module")
def required_ibr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from _box(tmp_path_factory, "required")


def _post_raw(box: Sandbox, path: str, body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return box.spmis.http.post(
        f"{box.url}{path}",
        content=content,
        headers={
            "Authorization": f"Bearer {box.spmis.token()}",
            "Content-Type": "application/json",
        },
    )


def _error(reply: httpx.Response) -> tuple[int, str, str]:
    error = reply.json()["message"]["error"]
    return reply.status_code, error["code"], error["message"]


def _fresh(box: Sandbox, message_id: str) -> dict[str, Any]:
    envelope = box.spmis.envelope("search", enrolled_message("0205202401"), sign=False)
    envelope["header"]["message_id"] = message_id
    return envelope


def test_dci_sample_accepted_unchanged_from_an_optional_client(
    optional_ibr: Sandbox, dci_samples: Path
) -> None:
    reply = _post_raw(optional_ibr, UPDATES, (dci_samples / "processflow1req.json").read_bytes())
    assert reply.status_code == 200, reply.text
    assert [i["status"] for i in reply.json()["message"]["enrolled_response"]] == ["succ"]
    reply = _post_raw(optional_ibr, ENROLLED, (dci_samples / "processflow2req.json").read_bytes())
    assert reply.status_code == 200, reply.text


def test_dci_sample_refused_as_missing_signature_from_a_required_client(
    required_ibr: Sandbox, dci_samples: Path
) -> None:
    reply = _post_raw(required_ibr, UPDATES, (dci_samples / "processflow1req.json").read_bytes())
    status, code, _ = _error(reply)
    assert (status, code) == (401, "err.signature.missing")


@pytest.mark.parametrize("placeholder", ["unsigned", "unsigned-stub", ""])
def test_kit_placeholders_count_as_no_signature(
    optional_ibr: Sandbox, required_ibr: Sandbox, placeholder: str
) -> None:
    for box, expected in ((optional_ibr, 200), (required_ibr, 401)):
        envelope = {**_fresh(box, f"placeholder-{placeholder}-{expected}")}
        envelope["signature"] = placeholder
        reply = box.spmis.post(ENROLLED, envelope)
        assert reply.status_code == expected, reply.text
        if expected == 401:
            assert _error(reply)[1] == "err.signature.missing"


def test_a_real_but_wrong_signature_is_refused_even_when_optional(optional_ibr: Sandbox) -> None:
    stranger = generate_signing_key(optional_ibr.spmis.private_jwk["kid"])
    forged = sign_envelope(_fresh(optional_ibr, "forged-jws"), stranger)
    status, code, text = _error(optional_ibr.spmis.post(ENROLLED, forged))
    assert (status, code) == (401, "err.signature.invalid")
    assert text.startswith("err.signature.mismatch")

    envelope = _fresh(optional_ibr, "forged-dci")
    envelope["signature"] = sign_dci(envelope["header"], envelope["message"], stranger)
    status, code, text = _error(optional_ibr.spmis.post(ENROLLED, envelope))
    assert (status, code) == (401, "err.signature.invalid")
    assert text.startswith("err.signature.mismatch")


@pytest.mark.parametrize("policy", ["required", "optional"])
def test_dci_signature_string_from_the_registered_key_is_accepted(
    optional_ibr: Sandbox, required_ibr: Sandbox, policy: str
) -> None:
    box = required_ibr if policy == "required" else optional_ibr
    envelope = _fresh(box, f"dci-signed-{policy}")
    envelope["signature"] = sign_dci(envelope["header"], envelope["message"], box.spmis.private_jwk)
    reply = box.spmis.post(ENROLLED, envelope)
    assert reply.status_code == 200, reply.text
    assert "enrolled_response" in reply.json()["message"]

    replayed = box.spmis.post(ENROLLED, envelope)  # same message_id: the replay rule applies
    status, code, text = _error(replayed)
    assert (status, code) == (400, "err.request.bad")
    assert text.startswith("err.message_id.duplicate")


def test_tampered_dci_signature_and_expired_one_are_refused(required_ibr: Sandbox) -> None:
    box = required_ibr
    envelope = _fresh(box, "dci-tampered")
    envelope["signature"] = sign_dci(envelope["header"], envelope["message"], box.spmis.private_jwk)
    tampered = copy.deepcopy(envelope)
    tampered["message"]["transaction_id"] = "another"
    status, code, text = _error(box.spmis.post(ENROLLED, tampered))
    assert (status, code) == (401, "err.signature.invalid")
    assert text.startswith("err.signature.mismatch")

    from datetime import timedelta

    from ibr_protocol.clock import utc_now

    old = _fresh(box, "dci-expired")
    old["signature"] = sign_dci(
        old["header"], old["message"], box.spmis.private_jwk, now=utc_now() - timedelta(hours=1)
    )
    status, code, text = _error(box.spmis.post(ENROLLED, old))
    assert (status, code) == (401, "err.signature.invalid")
    assert text.startswith("err.signature.expired")


def test_an_unsigned_request_from_an_optional_client_skips_no_other_check(
    optional_ibr: Sandbox,
) -> None:
    """Policy optional relaxes the signature only: a wrong token is still refused."""
    envelope = _fresh(optional_ibr, "unsigned-bad-token")
    envelope["header"]["message_ts"] = format_timestamp()
    reply = optional_ibr.spmis.http.post(
        f"{optional_ibr.url}{ENROLLED}", json=envelope, headers={"Authorization": "Bearer nope"}
    )
    assert reply.status_code == 401
    assert _error(reply)[1] == "err.request.unauthorized"
