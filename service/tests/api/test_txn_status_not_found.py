"""txn/status of an unknown transaction: a response envelope with header status `rjct` and
`status_reason_code` `rjct.txn.not_found`, never an HTTP error (IBR-TXN-003); sync as the
HTTP 200 answer, async as the txn-on-status callback. Another sender's transaction is unknown."""

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


def _assert_not_found(reply: httpx.Response, openapi: OpenAPI, asked: dict[str, Any]) -> None:
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, SYNC, reply)
    body = reply.json()
    validate(body, "api/envelope_txn_status_response")
    header, message = body["header"], body["message"]
    assert (header["action"], header["status"], header["status_reason_code"]) == (
        "txn-on-status",
        "rjct",
        "rjct.txn.not_found",
    )
    assert message["transaction_id"] == asked["transaction_id"]
    assert message["txnstatus_response"] == {"txn_type": asked["txnstatus_request"]["txn_type"]}


def test_sync_unknown_transaction_is_rjct_txn_not_found(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, asking about an unknown transaction is an HTTP 404 ERR instead of the
    spec's rjct response envelope (IBR-TXN-003)."""
    asked = txn_status_message(f"no-such-{uuid.uuid4()}", txn_type="receipt")
    _assert_not_found(ibr.spmis.send(SYNC, "txn-status", asked), openapi, asked)


def test_sync_unknown_correlation_id_is_rjct_txn_not_found(ibr: Sandbox, openapi: OpenAPI) -> None:
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
    """If this fails, the txn-on-status callback of an unknown transaction is not `rjct` /
    `rjct.txn.not_found`, or breaks api/envelope_txn_status_response (IBR-TXN-003)."""
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
    validate(body, "api/envelope_txn_status_response")
    header = body["header"]
    assert (header["action"], header["status"], header["status_reason_code"]) == (
        "txn-on-status",
        "rjct",
        "rjct.txn.not_found",
    )
    assert body["message"]["txnstatus_response"] == {"txn_type": "subscribe"}
    assert body["message"]["correlation_id"] == reply.json()["message"]["correlation_id"]
