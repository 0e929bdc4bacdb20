"""Every IBR-side operation answers valid requests with responses that validate against
spec/openapi.yaml (openapi-core), over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_core import OpenAPI

from ibr_protocol import validate
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import Sandbox
from ibr_service.cli.spmis import (
    enrolled_message,
    enrollment_message,
    search_message,
    subscribe_message,
    txn_status_message,
)

from .conftest import assert_matches_openapi

NID = "1000000001"


def _load(box: Sandbox) -> None:
    reply = box.spmis.send(
        "/registry/sync/enrollment/updates", "notify", enrollment_message(builtin_beneficiaries())
    )
    assert reply.status_code == 200, reply.text


def _exercise_every_operation(box: Sandbox, openapi: OpenAPI, prefix: str) -> None:
    spmis = box.spmis
    batch = enrollment_message(builtin_beneficiaries())
    sync_calls: list[tuple[str, str, dict[str, Any], str]] = [
        ("/sync/enrollment/updates", "notify", batch, "enrolled_response"),
        ("/sync/enrolled", "search", enrolled_message(NID), "enrolled_response"),
        ("/sync/search", "search", search_message("NID", NID), "search_response"),
        (
            "/sync/txn/status",
            "txn-status",
            txn_status_message(batch["transaction_id"], txn_type="receipt"),
            "txnstatus_response",
        ),
    ]
    for path, action, message, key in sync_calls:
        reply = spmis.send(f"{prefix}{path}", action, message)
        assert reply.status_code == 200, f"{path}: {reply.text}"
        assert key in reply.json()["message"], f"{path}: no {key} in {reply.text}"
        assert_matches_openapi(openapi, f"{prefix}{path}", reply)

    on_subscribe = f"{box.receiver_url}/registry/on-subscribe"
    async_calls = [
        ("/search", "search", search_message("NID", NID), f"{box.receiver_url}/registry/on-search"),
        ("/subscribe", "subscribe", subscribe_message("DEMO-CT"), on_subscribe),
        (
            "/txn/status",
            "txn-status",
            txn_status_message(batch["transaction_id"], txn_type="receipt"),
            f"{box.receiver_url}/registry/txn/on-status",
        ),
    ]
    before = len(box.receiver.received)
    for path, action, message, callback in async_calls:
        reply = spmis.send(f"{prefix}{path}", action, message, sender_uri=callback)
        assert reply.status_code == 200, f"{path}: {reply.text}"
        assert reply.json()["message"]["ack_status"] == "ACK"
        assert_matches_openapi(openapi, f"{prefix}{path}", reply)
    arrived = box.receiver.wait_for(before + len(async_calls))[before:]
    assert len(arrived) == len(async_calls), f"callbacks received: {arrived}"
    schemas = {
        "on-search": "api/envelope_search_response",
        "on-subscribe": "api/envelope_subscribe_response",
        "txn-on-status": "api/envelope_txn_status_response",
    }
    codes: list[str] = []
    for _, body in arrived:
        validate(body, schemas[body["header"]["action"]])
        if body["header"]["action"] == "on-subscribe":
            responses = body["message"].get("subscribe_response", [])
            codes.extend(s["code"] for r in responses for s in r.get("subscriptions", []))
    assert codes, "on-subscribe carried no subscription code"
    unsub = {"transaction_id": "txn-unsub-1", "timestamp": _now(), "subscription_codes": codes}
    reply = spmis.send(
        f"{prefix}/unsubscribe",
        "unsubscribe",
        unsub,
        sender_uri=f"{box.receiver_url}/registry/on-unsubscribe",
    )
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, f"{prefix}/unsubscribe", reply)
    (_, body), *_ = box.receiver.wait_for(before + len(async_calls) + 1)[-1:]
    validate(body, "api/envelope_unsubscribe_response")


def _now() -> str:
    from ibr_protocol import format_timestamp

    return format_timestamp()


@pytest.mark.parametrize("prefix", ["/registry", "/ibr/registry"])
def test_every_operation_answers_per_spec_on_sqlite(
    ibr: Sandbox, openapi: OpenAPI, prefix: str
) -> None:
    """If this fails, an operation (sync answer, ACK or callback) breaks spec/openapi.yaml."""
    _exercise_every_operation(ibr, openapi, prefix)


@pytest.mark.postgres
def test_every_operation_answers_per_spec_on_postgresql(ibr_pg: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, the PostgreSQL path answers differently from the spec."""
    _exercise_every_operation(ibr_pg, openapi, "/registry")


def test_dci_ibr_prefix_serves_the_same_operations(ibr: Sandbox) -> None:
    """If this fails, DCI's mock/compliance kit (which posts to /ibr/...) cannot reach us."""
    _load(ibr)
    reply = ibr.spmis.send("/ibr/sync/enrolled", "search", enrolled_message(NID))
    assert reply.status_code == 200, reply.text
    assert reply.json()["message"]["enrolled_response"][0]["enrolled_status"] == "yes"


def test_token_jwks_and_health_match_the_spec(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, SP-MIS cannot obtain tokens or verify our signatures per the spec."""
    http = ibr.spmis.http
    form = http.post(
        f"{ibr.url}/oauth2/client/token",
        data={
            "grant_type": "client_credentials",
            "client_id": ibr.spmis.sender_id,
            "client_secret": ibr.spmis.client_secret,
        },
    )
    assert form.status_code == 200
    assert form.headers["cache-control"] == "no-store"
    assert_matches_openapi(openapi, "/oauth2/client/token", form)
    as_json = http.post(
        f"{ibr.url}/oauth2/client/token",
        json={
            "grant_type": "client_credentials",
            "client_id": ibr.spmis.sender_id,
            "client_secret": "wrong",
        },
    )
    assert as_json.status_code == 401
    assert as_json.json()["error"] == "invalid_client"
    assert_matches_openapi(openapi, "/oauth2/client/token", as_json)
    jwks = http.get(f"{ibr.url}/.well-known/jwks.json")
    assert_matches_openapi(openapi, "/.well-known/jwks.json", jwks, method="get")
    assert all("d" not in key for key in jwks.json()["keys"])
    assert http.get(f"{ibr.url}/health").json() == {"status": "ok"}
    assert http.get(f"{ibr.url}/ready").json() == {"status": "ready"}
    served = http.get(f"{ibr.url}/openapi.json").json()
    assert served["info"]["version"].startswith("1.0.0-ibr")


def test_sync_response_is_signed_with_the_published_key(ibr: Sandbox) -> None:
    """If this fails, SP-MIS cannot trust what the IBR answers (unsigned or unverifiable)."""
    from ibr_protocol import Jwks, verify_envelope

    reply = ibr.spmis.send("/registry/sync/enrolled", "search", enrolled_message(NID)).json()
    keys = Jwks.from_dict(ibr.spmis.http.get(f"{ibr.url}/.well-known/jwks.json").json())
    verified = verify_envelope(reply, keys.get)
    assert verified.kid == ibr.host.keys.signing_key["kid"]
