"""The trigger API: an external harness makes this SP-MIS search, subscribe, unsubscribe."""

from __future__ import annotations

from typing import Any

import httpx

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
