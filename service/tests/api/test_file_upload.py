"""sync/enrollment/updates as a multipart file upload: a JSON envelope, or JSONL (line 1 the
envelope without beneficiaries, then one beneficiary per line; the signature covers the assembled
envelope)."""

from __future__ import annotations

import json

from openapi_core import OpenAPI

from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import Sandbox
from ibr_service.cli.spmis import enrolled_message, enrollment_message

from .conftest import assert_matches_openapi

PATH = "/registry/sync/enrollment/updates"


def _upload(box: Sandbox, content: bytes, file_format: str) -> dict[str, object]:
    reply = box.spmis.http.post(
        f"{box.url}{PATH}",
        data={"action": "notify", "fileFormat": file_format},
        files={"fileName": (f"batch.{file_format}", content, "application/octet-stream")},
        headers={"Authorization": f"Bearer {box.spmis.token()}"},
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_json_file_upload_is_processed_like_the_json_body(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, SP-MIS that send batches as files (DCI FileInfo) cannot publish."""
    beneficiaries = builtin_beneficiaries()[:2]
    envelope = ibr.spmis.envelope("notify", enrollment_message(beneficiaries))
    reply = ibr.spmis.http.post(
        f"{ibr.url}{PATH}",
        data={"action": "notify"},
        files={"fileName": ("batch.json", json.dumps(envelope).encode(), "application/json")},
        headers={"Authorization": f"Bearer {ibr.spmis.token()}"},
    )
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, PATH, reply)
    statuses = [item["status"] for item in reply.json()["message"]["enrolled_response"]]
    assert statuses == ["succ", "succ"]


def test_jsonl_upload_assembles_and_verifies_the_envelope(ibr: Sandbox) -> None:
    """If this fails, large JSONL batches are refused, or accepted without their signature."""
    beneficiaries = builtin_beneficiaries()
    signed = ibr.spmis.envelope("notify", enrollment_message(beneficiaries))
    first_line = json.loads(json.dumps(signed))
    first_line["message"]["enrolled_updates"]["beneficiaries"] = []
    lines = [json.dumps(first_line)] + [json.dumps(b) for b in beneficiaries]
    body = _upload(ibr, "\n".join(lines).encode(), "jsonl")
    items = body["message"]["enrolled_response"]  # type: ignore[index]
    assert [item["status"] for item in items] == ["succ"] * len(beneficiaries)
    check = ibr.spmis.send("/registry/sync/enrolled", "search", enrolled_message("1000000003"))
    assert check.json()["message"]["enrolled_response"][0]["enrolled_status"] == "yes"


def test_jsonl_upload_with_a_line_not_covered_by_the_signature_is_rejected(
    ibr: Sandbox,
) -> None:
    """If this fails, someone can append beneficiaries to a signed file."""
    beneficiaries = builtin_beneficiaries()[:1]
    signed = ibr.spmis.envelope("notify", enrollment_message(beneficiaries))
    signed["message"]["enrolled_updates"]["beneficiaries"] = []
    extra = builtin_beneficiaries()[1:]
    lines = [json.dumps(signed)] + [json.dumps(b) for b in beneficiaries + extra]
    reply = ibr.spmis.http.post(
        f"{ibr.url}{PATH}",
        data={"action": "notify", "fileFormat": "jsonl"},
        files={"fileName": ("batch.jsonl", "\n".join(lines).encode(), "application/octet-stream")},
        headers={"Authorization": f"Bearer {ibr.spmis.token()}"},
    )
    assert reply.status_code == 401
    assert reply.json()["message"]["error"]["code"] == "err.signature.invalid"
