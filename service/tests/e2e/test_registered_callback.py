"""IBR-CB-001: an asynchronous request without `sender_uri` is answered at the client's registered
callback base URL; without one it is refused (403 err.sender_uri.invalid), as before."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import search_message

from .conftest import fast_settings


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(fast_settings(f"sqlite:///{tmp_path}/ibr.db")) as running:
        yield running


def _register_base(box: Sandbox, base_url: str | None) -> None:
    with box.host.store.transaction() as tx:
        client = tx.get_client(box.spmis.sender_id)
        assert client is not None
        tx.put_client(replace(client, callback_base_url=base_url))


def test_a_request_without_sender_uri_is_answered_at_the_registered_url(box: Sandbox) -> None:
    _register_base(box, box.receiver_url)
    message = search_message("NID", "1000000002")
    reply = box.spmis.send("/registry/search", "search", message)
    assert reply.status_code == 200, reply.text
    ack = reply.json()["message"]
    assert ack["ack_status"] == "ACK"
    ((path, callback),) = box.receiver.wait_for(1, timeout=15)
    assert path == "/registry/on-search"
    assert callback["message"]["correlation_id"] == ack["correlation_id"]


def test_without_a_registered_url_sender_uri_is_still_required(box: Sandbox) -> None:
    _register_base(box, None)
    reply = box.spmis.send("/registry/search", "search", search_message("NID", "1000000002"))
    assert reply.status_code == 403
    assert reply.json()["message"]["error"]["code"] == "err.sender_uri.invalid"
