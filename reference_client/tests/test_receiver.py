"""The callback receiver over real HTTP on loopback: ACK/ERR, durable storage, handles."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
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
    """If this fails, an IBR retry after a lost ACK (the same message under a new header, as
    IBR-CB-003 requires) shows up as two notifications."""
    message = fake_ibr.search_response("txn-2", records=[])
    seen: list[int] = []
    sp_mis.on_callback(lambda stored: seen.append(stored.id))
    for _ in range(2):
        body = fake_ibr.signed_callback("on-search", message)
        response = fake_ibr.post(sp_mis.server.url, "/registry/on-search", body)
        assert response.json()["message"]["ack_status"] == "ACK"
    assert len(sp_mis.store.callbacks(action="on-search")) == 1
    assert len(seen) == 1


def test_bad_signature_gets_err_signature_invalid(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, anyone can inject search results or notifications."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-3", records=[]))
    body["message"]["transaction_id"] = "txn-tampered"
    response = fake_ibr.post(sp_mis.server.url, "/registry/on-search", body)
    assert response.status_code == 401
    assert response.json()["message"]["ack_status"] == "ERR"
    assert response.json()["message"]["error"]["code"] == "err.signature.invalid"
    assert sp_mis.store.callbacks() == []


def test_missing_signature_is_rejected(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, unsigned callbacks are accepted while signing is on."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-4", records=[]))
    del body["signature"]
    response = fake_ibr.post(sp_mis.server.url, "/registry/on-search", body)
    assert response.json()["message"]["error"]["code"] == "err.signature.missing"


def test_schema_invalid_body_gets_err_request_bad(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, malformed callbacks are stored and handed to the programme."""
    message = fake_ibr.search_response("txn-5", records=[])
    del message["search_response"][0]["status"]
    response = fake_ibr.deliver("on-search", message, to=sp_mis.server.url)
    assert response.status_code == 400
    assert response.json()["message"]["error"]["code"] == "err.request.bad"
    assert sp_mis.store.callbacks() == []


def test_not_json_gets_err(sp_mis: Any, fake_ibr: Any) -> None:
    """If this fails, garbage bodies crash the receiver instead of getting ERR."""
    response = httpx.post(
        sp_mis.server.url + "/registry/notify",
        content=b"{not json",
        headers={"content-type": "application/json", **fake_ibr.bearer(sp_mis.server.url)},
    )
    assert response.status_code == 400
    assert response.json()["message"]["error"]["code"] == "err.request.bad"


def test_handle_times_out_with_a_clear_error(sp_mis: Any) -> None:
    """If this fails, a lost callback hangs the caller forever."""
    handle = sp_mis.client.search_async([idtype_query("NID", "1")])
    with pytest.raises(CallbackTimeoutError, match="callback_url"):
        handle.result(timeout=0.3)


def _signed(fake_ibr: Any, action: str, message: dict[str, Any], *, age: float) -> dict[str, Any]:
    """A callback signed by the IBR whose message_ts is ``age`` seconds in the past."""
    sent = datetime.now(UTC) - timedelta(seconds=age)
    envelope = proto.build_callback(
        action=action,
        message=message,
        status="succ",
        sender_id="IBR",
        receiver_id="pension-mis",
        now=sent,
    )
    return proto.sign_envelope(envelope, fake_ibr.ibr_key)


def _notify_message(record: dict[str, Any], transaction_id: str = "txn-n") -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "notify_event": [
            {
                "reference_id": "sub-1:1",
                "timestamp": proto.format_timestamp(None),
                "subscription_code": "sub-1",
                "data": {
                    "reg_event_type": "enrollement_status_change",
                    "reg_record_type": "Beneficiary",
                    "reg_records": [record],
                },
            }
        ],
    }


@pytest.mark.parametrize("age", [400.0, -400.0], ids=["too-old", "from-the-future"])
def test_callback_outside_the_time_window_is_refused(
    sp_mis: Any, fake_ibr: Any, sample_beneficiary: Any, age: float
) -> None:
    """If this fails, a captured notify (validly signed) can be replayed to the SP-MIS long
    after its replay memory has forgotten the message_id (security profile §5)."""
    body = _signed(fake_ibr, "notify", _notify_message(sample_beneficiary()), age=age)
    response = fake_ibr.post(sp_mis.server.url, "/registry/notify", body)
    assert response.status_code == 400
    error = response.json()["message"]["error"]
    assert error["code"] == "err.request.bad"
    assert "err.message_ts.invalid" in error["message"]
    assert sp_mis.store.callbacks() == []


def test_callback_inside_the_time_window_is_accepted(
    sp_mis: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, ordinary clock skew (under 300 s) makes the receiver drop notifications."""
    body = _signed(fake_ibr, "notify", _notify_message(sample_beneficiary()), age=200.0)
    response = fake_ibr.post(sp_mis.server.url, "/registry/notify", body)
    assert response.json()["message"]["ack_status"] == "ACK"
    assert len(sp_mis.store.callbacks(action="notify")) == 1


def test_a_notify_redelivered_as_a_new_message_is_stored_once(
    sp_mis: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, an IBR retry after a lost ACK (new message_id and message_ts, same
    transaction_id and event reference_id) is handed to the programme twice (IBR-NOTIFY-003)."""
    message = _notify_message(sample_beneficiary())
    seen: list[int] = []
    sp_mis.on_callback(lambda stored: seen.append(stored.id))
    for age in (120.0, 0.0):
        body = _signed(fake_ibr, "notify", message, age=age)
        response = fake_ibr.post(sp_mis.server.url, "/registry/notify", body)
        assert response.json()["message"]["ack_status"] == "ACK"
    assert len(sp_mis.store.callbacks(action="notify")) == 1
    assert len(seen) == 1
    other = _signed(fake_ibr, "notify", _notify_message(sample_beneficiary(), "txn-m"), age=0)
    fake_ibr.post(sp_mis.server.url, "/registry/notify", other)
    assert len(sp_mis.store.callbacks(action="notify")) == 2, "a new event must be stored"


def test_a_redelivered_on_search_is_stored_once_but_another_page_is_kept(
    sp_mis: Any, fake_ibr: Any, sample_beneficiary: Any
) -> None:
    """If this fails, an IBR retry of an on-search (new message_id and message_ts, same
    message) shows up twice, or a second callback of the same correlation is dropped."""
    first = fake_ibr.search_response("txn-p", records=[sample_beneficiary()])
    for age in (60.0, 0.0):
        body = _signed(fake_ibr, "on-search", first, age=age)
        assert fake_ibr.post(sp_mis.server.url, "/registry/on-search", body).status_code == 200
    assert len(sp_mis.store.callbacks(action="on-search")) == 1
    second = {**first, "search_response": [{**first["search_response"][0], "reference_id": "p2"}]}
    body = _signed(fake_ibr, "on-search", second, age=0.0)
    assert fake_ibr.post(sp_mis.server.url, "/registry/on-search", body).status_code == 200
    assert len(sp_mis.store.callbacks(action="on-search")) == 2


_EXAMPLES = {
    "on-search": "post_reg_on-search/envelope_search_response.json",
    "on-subscribe": "post_reg_on-subscribe/envelope_subscribe_response.json",
    "on-unsubscribe": "post_reg_on-unsubscribe/envelope_unsubscribe_response.json",
    "txn-on-status": "post_reg_on-txnstatus/envelope_txn_status_response.json",
    "notify": "post_reg_notify/envelope_notify_event_request.json",
}


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("/ibr/on-search", "on-search"),
        ("/ibr/on-subscribe", "on-subscribe"),
        ("/ibr/on-unsubscribe", "on-unsubscribe"),
        ("/ibr/txn/on-status", "txn-on-status"),
        ("/ibr/notify", "notify"),
    ],
)
def test_callbacks_are_also_served_under_the_dci_ibr_paths(
    sp_mis: Any, fake_ibr: Any, path: str, action: str
) -> None:
    """If this fails, an IBR (or DCI's IBR compliance scenarios) posting callbacks under /ibr/
    gets 404, or those paths skip the receiver's checks."""
    example = proto.spec_dir() / "examples" / "valid" / _EXAMPLES[action]
    message = json.loads(example.read_text())["message"]
    signed = fake_ibr.signed_callback(action, message)
    unsigned = {
        k: v for k, v in fake_ibr.signed_callback(action, message).items() if k != "signature"
    }
    refused = fake_ibr.post(sp_mis.server.url, path, unsigned)
    assert refused.status_code == 401, refused.text
    assert refused.json()["message"]["error"]["code"] == "err.signature.missing"
    assert httpx.post(sp_mis.server.url + path, json=signed, timeout=10).status_code == 401
    accepted = fake_ibr.post(sp_mis.server.url, path, signed)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["message"]["ack_status"] == "ACK"
    assert [stored.action for stored in sp_mis.store.callbacks()] == [action]


@pytest.fixture
def lenient_sp_mis(make_config: Any, fake_ibr: Any) -> Any:
    system = ReferenceSpMis(
        make_config(listen_port=0, callback_signature="optional"),
        ibr_keys=fake_ibr.keys(),
        http=httpx.Client(transport=fake_ibr.transport()),
    ).start_receiver()
    yield system
    system.close()


@pytest.mark.parametrize("placeholder", ["unsigned-stub", "unsigned", None])
def test_placeholder_signature_is_missing_under_the_default_policy(
    sp_mis: Any, fake_ibr: Any, placeholder: str | None
) -> None:
    """If this fails, the default (`callback_signature = "required"`) takes a DCI placeholder,
    which signs nothing, for a signature."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-p", records=[]))
    if placeholder is None:
        del body["signature"]
    else:
        body["signature"] = placeholder
    response = fake_ibr.post(sp_mis.server.url, "/registry/on-search", body)
    assert response.status_code == 401
    assert response.json()["message"]["error"]["code"] == "err.signature.missing"
    assert sp_mis.store.callbacks() == []


@pytest.mark.parametrize("placeholder", ["unsigned-stub", "unsigned", None])
def test_optional_policy_accepts_a_callback_without_signature(
    lenient_sp_mis: Any, fake_ibr: Any, placeholder: str | None
) -> None:
    """If this fails, a test peer that cannot sign (OpenSPP's DCI compliance kit sends
    `unsigned-stub`) cannot reach an SP-MIS registered `callback_signature = "optional"`."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-o", records=[]))
    if placeholder is None:
        del body["signature"]
    else:
        body["signature"] = placeholder
    response = fake_ibr.post(lenient_sp_mis.server.url, "/registry/on-search", body)
    assert response.status_code == 200, response.text
    assert response.json()["message"]["ack_status"] == "ACK"
    assert len(lenient_sp_mis.store.callbacks(action="on-search")) == 1


@pytest.mark.parametrize("mangle", ["tamper", "invalid-signature"])
def test_optional_policy_still_verifies_a_real_signature(
    lenient_sp_mis: Any, fake_ibr: Any, mangle: str
) -> None:
    """If this fails, `optional` turns signature checks off: a wrong or malformed signature
    must still be refused (the kit's signature scenario sends `invalid-signature`)."""
    body = fake_ibr.signed_callback("on-search", fake_ibr.search_response("txn-r", records=[]))
    if mangle == "tamper":
        body["message"]["transaction_id"] = "txn-tampered"
    else:
        body["signature"] = mangle
    response = fake_ibr.post(lenient_sp_mis.server.url, "/registry/on-search", body)
    assert response.status_code == 401
    assert response.json()["message"]["error"]["code"] == "err.signature.invalid"
    assert lenient_sp_mis.store.callbacks() == []


def test_a_notify_with_no_event_to_act_on_is_acked_and_nothing_applied(
    lenient_sp_mis: Any, sp_mis: Any, fake_ibr: Any
) -> None:
    """If this fails, a DCI-valid notify whose event carries no record (OpenSPP's kit: no
    reg_event_type, reg_record_type "Person", `reg_records: {}`, unsigned) is refused, or
    stored as if something happened (C-NOTIFY-NO-RECORDS): it is acknowledged, logged,
    nothing applied. Signature rules are unchanged: the default policy still refuses it."""
    message = {
        "transaction_id": "txn-empty",
        "notify_event": [
            {
                "reference_id": "e-1",
                "timestamp": proto.format_timestamp(None),
                "data": {"version": "1.0.0", "reg_record_type": "Person", "reg_records": {}},
            }
        ],
    }
    body = _signed(fake_ibr, "notify", message, age=0)
    body["signature"] = "unsigned-stub"
    response = fake_ibr.post(lenient_sp_mis.server.url, "/registry/notify", body)
    assert response.status_code == 200, response.text
    assert response.json()["message"]["ack_status"] == "ACK"
    assert lenient_sp_mis.store.callbacks(action="notify") == []
    refused = fake_ibr.post(sp_mis.server.url, "/registry/notify", body)
    assert refused.status_code == 401, "the default policy still wants a signature"
    assert sp_mis.store.callbacks(action="notify") == []
