"""The callback receiver over real HTTP on loopback: ACK/ERR, durable storage, handles."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

import ibr_protocol as proto
from ibr_client import CallbackTimeoutError, ClientStore, ReferenceSpMis
from ibr_client.messages import idtype_query


@pytest.fixture
def sp_mis(make_config: Any, fake_ibr: Any) -> Any:
    system = ReferenceSpMis(
        make_config(listen_port=0),
        ibr_keys=fake_ibr.keys(),
        http=httpx.Client(transport=fake_ibr.transport()),
    ).start_receiver()
    yield system
    system.close()


def test_async_search_handle_resolves_when_on_search_arrives(
    sp_mis: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, async searches never complete: callbacks are not matched to requests."""
    handle = sp_mis.client.search_async([idtype_query("NID", "1")])
    sent = fake_ibr.async_requests[-1]
    assert sent["header"]["sender_uri"] == sp_mis.server.url + "/registry/on-search"
    assert handle.poll() is None
    answer = fake_ibr.search_response(handle.transaction_id, records=[sample_beneficiary()])
    timer = threading.Timer(0.2, fake_ibr.deliver, ("on-search", answer), {"to": sp_mis.server.url})
    timer.start()
    result = handle.result(timeout=10)
    timer.join()
    assert isinstance(result, proto.SearchResponse)
    assert result.transaction_id == handle.transaction_id


def test_valid_callback_is_acked_and_stored_durably(
    sp_mis: Any, fake_ibr: Any, make_config: Any
) -> None:
    """If this fails, a callback the IBR considers delivered can be lost on restart."""
    answer = fake_ibr.search_response("txn-1", records=[])
    response = fake_ibr.deliver("on-search", answer, to=sp_mis.server.url)
    assert response.status_code == 200
    assert response.json()["message"]["ack_status"] == "ACK"
    reopened = ClientStore(make_config().store_path)
    stored = reopened.find_callback("txn-1", "on-search")
    reopened.close()
    assert stored is not None
    assert stored.message == answer


def test_duplicate_delivery_is_acked_but_stored_once(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, an IBR retry after a lost ACK shows up as two notifications."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-2", records=[]))
    seen: list[int] = []
    sp_mis.on_callback(lambda stored: seen.append(stored.id))
    for _ in range(2):
        response = httpx.post(sp_mis.server.url + "/registry/on-search", json=body)
        assert response.json()["message"]["ack_status"] == "ACK"
    assert len(sp_mis.store.callbacks(action="on-search")) == 1
    assert len(seen) == 1


def test_bad_signature_gets_err_signature_invalid(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, anyone can inject search results or notifications."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-3", records=[]))
    body["message"]["transaction_id"] = "txn-tampered"
    response = httpx.post(sp_mis.server.url + "/registry/on-search", json=body)
    assert response.status_code == 401
    assert response.json()["message"]["ack_status"] == "ERR"
    assert response.json()["message"]["error"]["code"] == "err.signature.invalid"
    assert sp_mis.store.callbacks() == []


def test_missing_signature_is_rejected(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, unsigned callbacks are accepted while signing is on."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-4", records=[]))
    del body["signature"]
    response = httpx.post(sp_mis.server.url + "/registry/on-search", json=body)
    assert response.json()["message"]["error"]["code"] == "err.signature.missing"


def test_schema_invalid_body_gets_err_request_bad(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, malformed callbacks are stored and handed to the programme."""
    message = fake_ibr.search_response("txn-5", records=[])
    del message["search_response"][0]["status"]
    response = fake_ibr.deliver("on-search", message, to=sp_mis.server.url)
    assert response.status_code == 400
    assert response.json()["message"]["error"]["code"] == "err.request.bad"
    assert sp_mis.store.callbacks() == []


def test_not_json_gets_err(sp_mis: Any) -> None:
    """If this fails, garbage bodies crash the receiver instead of getting ERR."""
    response = httpx.post(
        sp_mis.server.url + "/registry/notify",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["message"]["error"]["code"] == "err.request.bad"


def test_handle_times_out_with_a_clear_error(sp_mis: Any) -> None:
    """If this fails, a lost callback hangs the caller forever."""
    handle = sp_mis.client.search_async([idtype_query("NID", "1")])
    with pytest.raises(CallbackTimeoutError, match="callback_url"):
        handle.result(timeout=0.3)
