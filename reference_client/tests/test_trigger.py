"""The trigger API: an external harness makes this SP-MIS search, subscribe, unsubscribe."""

from __future__ import annotations

from typing import Any

import httpx

import ibr_protocol as proto
from ibr_client import ReferenceSpMis


def test_trigger_starts_processes_and_exposes_their_callbacks(
    make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, DCI-style kits cannot drive this SP-MIS to test client behaviour."""
    with ReferenceSpMis(
        make_config(listen_port=0),
        ibr_keys=fake_ibr.keys(),
        trigger=True,
        http=httpx.Client(transport=fake_ibr.transport()),
    ).start_receiver() as sp_mis:
        assert sp_mis.server is not None
        base = sp_mis.server.url
        started = httpx.post(
            base + "/trigger/search", json={"queries": [{"type": "NID", "value": "1"}]}
        )
        assert started.status_code == 202, started.text
        transaction_id = started.json()["transaction_id"]
        assert fake_ibr.async_requests[-1]["header"]["action"] == "search"
        assert httpx.get(f"{base}/trigger/transactions/{transaction_id}").status_code == 404

        fake_ibr.deliver("on-search", fake_ibr.search_response(transaction_id, records=[]), to=base)
        seen = httpx.get(f"{base}/trigger/transactions/{transaction_id}")
        assert seen.status_code == 200
        assert seen.json()["action"] == "on-search"

        subscribed = httpx.post(
            base + "/trigger/subscribe",
            json={"reg_event_type": "enrollement_status_change", "filter": {"value": {}}},
        )
        assert subscribed.status_code == 202, subscribed.text
        unsubscribed = httpx.post(
            base + "/trigger/unsubscribe", json={"subscription_codes": ["sub-1"]}
        )
        assert unsubscribed.status_code == 202, unsubscribed.text
        actions = [e["header"]["action"] for e in fake_ibr.async_requests]
        assert actions == ["search", "subscribe", "unsubscribe"]


def test_trigger_is_off_by_default(make_config: Any, fake_ibr: Any) -> None:
    """If this fails, anyone reaching the receiver can make this SP-MIS query the IBR."""
    with ReferenceSpMis(
        make_config(listen_port=0), ibr_keys=fake_ibr.keys()
    ).start_receiver() as sp_mis:
        assert sp_mis.server is not None
        response = httpx.post(sp_mis.server.url + "/trigger/search", json={"queries": [{}]})
    assert response.status_code == 404


def test_trigger_takes_the_compliance_kits_shapes_and_answers_ack_status(
    make_config: Any, fake_ibr: Any
) -> None:
    """If this fails, OpenSPP's DCI compliance kit (spmis-client profile) cannot drive this
    SP-MIS: its trigger bodies get 422, or the answer has no ack_status to check."""
    with ReferenceSpMis(
        make_config(listen_port=0),
        ibr_keys=fake_ibr.keys(),
        trigger=True,
        http=httpx.Client(transport=fake_ibr.transport()),
    ).start_receiver() as sp_mis:
        assert sp_mis.server is not None
        base = sp_mis.server.url + "/trigger"
        search = httpx.post(
            base + "/search",
            json={"query_type": "idtype-value", "query": {"type": "UIN", "value": "TEST-001"}},
        )
        assert search.status_code == 202, search.text
        assert search.json()["ack_status"] == "ACK"
        criteria = fake_ibr.async_requests[-1]["message"]["search_request"][0]["search_criteria"]
        assert criteria == {
            "query_type": "idtype-value",
            "query": {"type": "UIN", "value": "TEST-001"},
        }

        subscribe = httpx.post(base + "/subscribe", json={"event_type": "REGISTER"})
        assert subscribe.status_code == 202, subscribe.text
        assert subscribe.json()["ack_status"] == "ACK"
        sent = fake_ibr.async_requests[-1]["message"]["subscribe_request"][0]["subscribe_criteria"]
        assert sent["reg_event_type"] == "enrollement"
        assert sent["filter_type"] == "expression"

        unsubscribe = httpx.post(
            base + "/unsubscribe", json={"subscription_codes": ["sub-test-001"]}
        )
        assert unsubscribe.json()["ack_status"] == "ACK"
        actions = [e["header"]["action"] for e in fake_ibr.async_requests]
        assert actions == ["search", "subscribe", "unsubscribe"]

        unknown = httpx.post(base + "/subscribe", json={"event_type": "LIVE_BIRTH"})
        assert unknown.status_code == 422
        assert unknown.json()["ack_status"] == "ERR"
        assert "LIVE_BIRTH" in unknown.json()["error"]["message"]

        fake_ibr.answer_override = lambda path, envelope: httpx.Response(
            400, json=proto.err("err.request.bad", "configured error")
        )
        refused = httpx.post(base + "/search", json={"query": {"type": "UIN", "value": "1"}})
        assert refused.status_code == 502
        assert refused.json()["ack_status"] == "ERR"
        assert refused.json()["error"]["code"] == "err.request.bad"
    assert len(fake_ibr.async_requests) == 3, "an unknown event type must not be sent"
