"""Malformed bodies on every IBR-side path get an ERR (4xx), never a 500."""

from __future__ import annotations

import pytest

from ibr_service.api.operations import ALL_OPERATIONS, Operation
from ibr_service.cli.sandbox import Sandbox

BODIES: list[bytes] = [
    b"[]",
    b"null",
    b'"text"',
    b"{}",
    b'{"header": 1}',
    b'{"header": {}, "message": []}',
    b'{"header": {"message_id": 5, "action": "search"}, "message": {}}',
    b'{"header": {"is_msg_encrypted": true}, "message": {"header": 1}}',
    b'{"header": {"total_count": "abc"}, "message": {"enrolled_updates": "x"}}',
    b'{"signature": 5, "header": {}, "message": {}}',
    b"\xff\xfe",
    b'{"a": 1e999}',
    b'{"header": {"version": "1.0.0", "message_id": "m", "message_ts": "2020", "action": "notify",'
    b' "sender_id": "test.spmis", "receiver_id": "IBR", "total_count": 1,'
    b' "is_msg_encrypted": false}, "message": {"enrolled_updates": {"receipt_type": "enrollment",'
    b' "beneficiaries": [{"assistance_unit": 7}]}}}',
]


@pytest.mark.parametrize("operation", ALL_OPERATIONS, ids=[op.path for op in ALL_OPERATIONS])
def test_malformed_bodies_get_err_not_500(ibr: Sandbox, operation: Operation) -> None:
    """If this fails, a client mistake surfaces as a server error (500) or a non-ERR body."""
    path = f"/registry{operation.path}"
    token = ibr.spmis.token()
    for body in BODIES:
        reply = ibr.spmis.http.post(
            f"{ibr.url}{path}",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert 400 <= reply.status_code < 500, (path, body, reply.status_code, reply.text)
        assert reply.json()["message"]["ack_status"] == "ERR", (path, body, reply.text)
