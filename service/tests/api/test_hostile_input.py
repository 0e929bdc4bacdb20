"""Values no message may hold, sent with and without a token, on SQLite and PostgreSQL: each is a
400 ERR naming the field (never a 500, never database text, never the value sent), and nothing is
written. Found by a hand-written catalogue of bad inputs that the fuzzer never generated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ibr_protocol import sign_envelope
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import enrolled_message, enrollment_message, search_message
from ibr_service.core.samples import person_beneficiary

from .conftest import fast_settings, row_counts

ENROLMENT = "/registry/sync/enrollment/updates"
SEARCH = "/registry/sync/search"
ENROLLED = "/registry/sync/enrolled"
TOKEN = "/oauth2/client/token"
DATABASE_WORDS = ("database", "CONTEXT", "psycopg", "sqlite", "Traceback", "escape sequence")


def _post_text(box: Sandbox, path: str, text: str, *, token: bool) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {box.spmis.token()}"
    return box.spmis.http.post(f"{box.spmis.base_url}{path}", content=text, headers=headers)


def _assert_refused(reply: httpx.Response, *, status: int, field: str | None = None) -> str:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["message"]["ack_status"] == "ERR", body
    message = str(body["message"]["error"]["message"])
    for word in DATABASE_WORDS:
        assert word not in message, message
    if field is not None:
        assert f"(field {field})" in message, message
    return message


def _signed_text(box: Sandbox, path: str, action: str, message: dict[str, Any]) -> str:
    return json.dumps(box.spmis.envelope(action, message))


def _batch(box: Sandbox, *, given_name: str = "Amina") -> str:
    item = person_beneficiary("HOSTILE-1")
    item["member"]["demographic_info"]["name"]["given_name"] = given_name
    return _signed_text(box, ENROLMENT, "notify", enrollment_message([item]))


@pytest.mark.parametrize("token", [True, False], ids=["token", "no-token"])
def test_a_5000_digit_integer_anywhere_is_400_not_500(any_ibr: Sandbox, token: bool) -> None:
    """If this fails, Python's integer-length limit turns a client mistake into a 500."""
    text = _batch(any_ibr).replace('"total_count": 1', '"total_count": ' + "9" * 5000)
    assert "9" * 5000 in text
    _assert_refused(
        _post_text(any_ibr, ENROLMENT, text, token=token), status=400, field="$.header.total_count"
    )


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_a_signed_envelope_are_400(any_ibr: Sandbox, value: str) -> None:
    """If this fails, signature canonicalisation meets NaN/Infinity and the IBR answers 500."""
    text = _batch(any_ibr).replace('"total_count": 1', f'"total_count": {value}')
    _assert_refused(
        _post_text(any_ibr, ENROLMENT, text, token=True), status=400, field="$.header.total_count"
    )


@pytest.mark.parametrize("token", [True, False], ids=["token", "no-token"])
@pytest.mark.parametrize(
    ("where", "field"),
    [
        (
            "name",
            "$.message.enrolled_updates.beneficiaries[0].member.demographic_info.name.given_name",
        ),
        ("search", "$.message.search_request[0].search_criteria.query.value"),
        ("message_id", "$.header.message_id"),
    ],
)
@pytest.mark.parametrize("bad", ["\\ud800", "\\u0000"], ids=["surrogate", "nul"])
def test_nul_and_lone_surrogates_are_400_naming_the_field_and_write_nothing(
    any_ibr: Sandbox, token: bool, where: str, field: str, bad: str
) -> None:
    """If this fails, a NUL reaches PostgreSQL (its error text and the request's personal data
    come back) or a lone surrogate crashes UTF-8 encoding with a 500."""
    if where == "name":
        text = _batch(any_ibr, given_name="MARKER")
        text = text.replace('"MARKER"', f'"Ja{bad}ne"')
    elif where == "search":
        text = _signed_text(any_ibr, SEARCH, "search", search_message("NID", "MARKER"))
        text = text.replace('"MARKER"', f'"12{bad}34"')
    else:
        envelope = any_ibr.spmis.envelope("search", search_message("NID", "123"))
        envelope["header"]["message_id"] = "MARKER"
        text = json.dumps(envelope).replace('"MARKER"', f'"m-{bad}"')
    path = ENROLMENT if where == "name" else SEARCH
    before = row_counts(any_ibr, data_only=True)
    message = _assert_refused(_post_text(any_ibr, path, text, token=token), status=400, field=field)
    assert "Ja" not in message
    assert row_counts(any_ibr, data_only=True) == before


@pytest.mark.parametrize(
    "body",
    [
        b'{"grant_type": "client_credentials", "client_id": "\\ud800", "client_secret": "x"}',
        b'{"grant_type": "client_credentials", "client_id": "a\\u0000", "client_secret": "x"}',
        b'{"grant_type": "client_credentials", "client_id": "a", "client_secret": "\\udfff"}',
        b'{"grant_type": "client_credentials", "client_id": ' + b"1" * 5000 + b"}",
    ],
)
def test_hostile_json_credentials_get_the_rfc6749_error(any_ibr: Sandbox, body: bytes) -> None:
    """If this fails, the token endpoint answers 500 or in our ERR format instead of RFC 6749."""
    reply = any_ibr.spmis.http.post(
        f"{any_ibr.spmis.base_url}{TOKEN}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "invalid_request", reply.text
    for word in DATABASE_WORDS:
        assert word not in reply.text


@pytest.mark.parametrize("client_id", ["a%00b", "%ED%A0%80"])
def test_hostile_form_credentials_get_the_rfc6749_error(any_ibr: Sandbox, client_id: str) -> None:
    """If this fails, a NUL in a form-encoded client_id reaches the database (PostgreSQL raises)
    and the answer is not RFC 6749's."""
    reply = any_ibr.spmis.http.post(
        f"{any_ibr.spmis.base_url}{TOKEN}",
        content=f"grant_type=client_credentials&client_id={client_id}&client_secret=x".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code in (400, 401), reply.text
    assert reply.json()["error"] in ("invalid_request", "invalid_client"), reply.text
    for word in DATABASE_WORDS:
        assert word not in reply.text


def test_90000_criteria_are_refused_by_count_before_any_item_is_checked(tmp_path: Path) -> None:
    """If this fails, a sender can make the IBR validate an unbounded list (minutes of CPU)."""
    settings = fast_settings(f"sqlite:///{tmp_path}/ibr.db", max_body_bytes=32 * 1024 * 1024)
    with sandbox(settings) as box:
        _refuse_90000_criteria(box)


def _refuse_90000_criteria(any_ibr: Sandbox) -> None:
    message = enrolled_message("X")
    criterion = message["enrolled_criteria"]
    message["enrolled_criteria"] = [dict(criterion, reference_id=f"c{i}") for i in range(90_000)]
    text = _signed_text(any_ibr, ENROLLED, "search", message)
    reply = any_ibr.spmis.http.post(
        f"{any_ibr.spmis.base_url}{ENROLLED}",
        content=text,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {any_ibr.spmis.token()}",
        },
        timeout=60,
    )
    message_text = _assert_refused(reply, status=400, field="body")
    # The parser stops at the operation's object budget: the items are never all read.
    assert "err.request.too_many_items" in message_text
    assert "maxItems" in message_text


def test_a_signed_message_ts_without_zone_is_refused(any_ibr: Sandbox) -> None:
    """If this fails, a zone-less message_ts is read as UTC (security profile section 5 says
    refuse)."""
    unsigned = any_ibr.spmis.envelope("search", search_message("NID", "1"), sign=False)
    naive = unsigned["header"]["message_ts"].replace("Z", "").replace("+00:00", "")
    assert naive != unsigned["header"]["message_ts"]
    unsigned["header"]["message_ts"] = naive
    signed = sign_envelope(unsigned, any_ibr.spmis.private_jwk)
    message = _assert_refused(
        _post_text(any_ibr, SEARCH, json.dumps(signed), token=True), status=400
    )
    assert "header.message_ts" in message
    assert "zone" in message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_body_not_in_utf8_is_415(any_ibr: Sandbox, encoding: str) -> None:
    """If this fails, a UTF-16 body is accepted although JSON on the wire is UTF-8."""
    text = _signed_text(any_ibr, SEARCH, "search", search_message("NID", "1"))
    reply = any_ibr.spmis.http.post(
        f"{any_ibr.spmis.base_url}{SEARCH}",
        content=text.encode(encoding),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {any_ibr.spmis.token()}",
        },
    )
    _assert_refused(reply, status=415)


def test_a_wrong_method_is_405_with_allow(any_ibr: Sandbox) -> None:
    """If this fails, a 405 does not say which methods the path takes (RFC 9110 15.5.6)."""
    reply = any_ibr.spmis.http.get(f"{any_ibr.spmis.base_url}{SEARCH}")
    assert reply.status_code == 405, reply.text
    assert reply.headers.get("allow") == "POST"
    assert reply.json()["message"]["ack_status"] == "ERR"


def test_a_schema_refusal_names_field_and_rule_but_never_the_value(any_ibr: Sandbox) -> None:
    """If this fails, an ERR repeats what was sent (IBR-ERR-003): jsonschema's own messages quote
    the offending value (a birth date, an identifier)."""
    message = search_message("NID", "1")
    message["search_request"][0]["timestamp"] = "PERSONAL-1980-04-12"
    reply = any_ibr.spmis.send(SEARCH, "search", message)
    text = _assert_refused(reply, status=400)
    assert "$.message.search_request[0].timestamp" in text
    assert "breaks 'pattern'" in text or "breaks 'format'" in text
    assert "PERSONAL" not in text
