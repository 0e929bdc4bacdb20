"""txn/status of an unknown transaction: a response envelope inside DCI's schema, never an HTTP
error (IBR-TXN-003): header status `rjct` without a header reason code (DCI's list has none for
it), and a `txn_status` of the asked txn_type whose one item is `rjct` with
`rjct.reference_id.invalid`; sync as the HTTP 200 answer, async as the txn-on-status callback.
Another sender's transaction gets exactly the same answer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from openapi_core import OpenAPI

from ibr_protocol import validate
from ibr_protocol.clock import utc_now
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import Sandbox
from ibr_service.cli.spmis import ScriptedSpMis, enrollment_message, txn_status_message
from ibr_service.security.clients import register_client

from .conftest import assert_matches_openapi

SYNC = "/registry/sync/txn/status"
ASYNC = "/registry/txn/status"


RESULTS = {
    "search": "search_response",
    "subscribe": "subscribe_response",
    "receipt": "enrolled_response",
}


def _assert_dci_shaped(body: dict[str, Any], asked: dict[str, Any]) -> None:
    validate(body, "api/envelope_txn_status_response")
    header, message = body["header"], body["message"]
    assert (header["action"], header["status"]) == ("txn-on-status", "rjct")
    # DCI's header reason codes (message-level) have none for this; ours is not DCI's.
    assert "status_reason_code" not in header, header
    request = asked["txnstatus_request"]
    answer = message["txnstatus_response"]
    assert answer["txn_type"] == request["txn_type"]
    [item] = answer["txn_status"][RESULTS[request["txn_type"]]]
    assert (item["reference_id"], item["status"], item["status_reason_code"]) == (
        request["reference_id"],
        "rjct",
        "rjct.reference_id.invalid",
    )


def _assert_not_found(reply: httpx.Response, openapi: OpenAPI, asked: dict[str, Any]) -> None:
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, SYNC, reply)
    body = reply.json()
    _assert_dci_shaped(body, asked)
    assert body["message"]["transaction_id"] == asked["transaction_id"]


def test_sync_unknown_transaction_is_answered_inside_dci_schema(
    ibr: Sandbox, openapi: OpenAPI
) -> None:
    """If this fails, asking about an unknown transaction is an HTTP 404 ERR instead of the
    spec's rjct response envelope (IBR-TXN-003)."""
    asked = txn_status_message(f"no-such-{uuid.uuid4()}", txn_type="receipt")
    _assert_not_found(ibr.spmis.send(SYNC, "txn-status", asked), openapi, asked)


def test_sync_unknown_correlation_id_is_answered_inside_dci_schema(
    ibr: Sandbox, openapi: OpenAPI
) -> None:
    """If this fails, a lookup by correlation id takes another path than by transaction id."""
    asked = txn_status_message("unused")
    asked["txnstatus_request"].update(attribute_type="correlation_id", attribute_value="nope")
    _assert_not_found(ibr.spmis.send(SYNC, "txn-status", asked), openapi, asked)


def test_another_senders_transaction_is_not_found(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, one SP-MIS learns about (or reads) another SP-MIS's transactions."""
    batch = enrollment_message(builtin_beneficiaries())
    published = ibr.spmis.send("/registry/sync/enrollment/updates", "notify", batch)
    assert published.status_code == 200, published.text
    mine = txn_status_message(batch["transaction_id"], txn_type="receipt")
    own = ibr.spmis.send(SYNC, "txn-status", mine)
    assert own.json()["header"]["status"] == "succ", own.text

    other = ScriptedSpMis(base_url=ibr.url, sender_id="other.spmis", client_secret="")
    _, other.client_secret = register_client(
        ibr.host.store, sender_id="other.spmis", now=utc_now(), public_keys=[other.public_jwk]
    )
    try:
        asked = txn_status_message(batch["transaction_id"], txn_type="receipt")
        _assert_not_found(other.send(SYNC, "txn-status", asked), openapi, asked)
    finally:
        other.http.close()


def test_async_unknown_transaction_is_a_rjct_callback(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, the txn-on-status callback of an unknown transaction is not the `rjct`
    answer inside DCI's schema, or breaks api/envelope_txn_status_response (IBR-TXN-003)."""
    asked = txn_status_message(f"no-such-{uuid.uuid4()}", txn_type="subscribe")
    before = len(ibr.receiver.received)
    reply = ibr.spmis.send(
        ASYNC, "txn-status", asked, sender_uri=f"{ibr.receiver_url}/registry/txn/on-status"
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["message"]["ack_status"] == "ACK"
    assert_matches_openapi(openapi, ASYNC, reply)
    arrived = ibr.receiver.wait_for(before + 1)[before:]
    assert len(arrived) == 1, "no txn-on-status callback arrived"
    _, body = arrived[0]
    _assert_dci_shaped(body, asked)
    assert body["message"]["correlation_id"] == reply.json()["message"]["correlation_id"]
