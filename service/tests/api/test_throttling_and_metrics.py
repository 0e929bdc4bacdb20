"""Abuse is throttled (429 + Retry-After), client authentication costs the same for unknown ids,
refusals are logged as JSON lines without personal data, and /metrics counts all of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import search_message
from ibr_service.core.samples import person_beneficiary
from ibr_service.security import clients as clients_module
from ibr_service.security.clients import authenticate_client
from ibr_service.security.errors import AuthenticationError
from ibr_service.security.throttle import RateLimit, Throttle, TooManyRequestsError

from .conftest import fast_settings

SEARCH = "/registry/sync/search"
TOKEN = "/oauth2/client/token"


@contextmanager
def _box(tmp_path: Path, **limits: Any) -> Iterator[Sandbox]:
    with sandbox(fast_settings(f"sqlite:///{tmp_path}/ibr.db", **limits)) as box:
        yield box


def _wrong_secret(box: Sandbox) -> httpx.Response:
    return box.spmis.http.post(
        f"{box.spmis.base_url}{TOKEN}",
        data={
            "grant_type": "client_credentials",
            "client_id": box.spmis.sender_id,
            "client_secret": "not-the-secret",
        },
    )


def test_repeated_wrong_secrets_are_throttled_with_retry_after(tmp_path: Path) -> None:
    """If this fails, a password guesser gets unlimited tries at the token endpoint."""
    with _box(tmp_path, token_failures_per_minute=5) as box:
        statuses = [_wrong_secret(box).status_code for _ in range(30)]
        assert statuses[:5] == [401] * 5, statuses
        assert set(statuses[5:]) == {429}, statuses
        refused = _wrong_secret(box)
        assert refused.headers["retry-after"].isdigit()
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["message"]["error"]["code"] == "err.request.too_many_requests"


def test_token_requests_per_address_are_limited_before_any_hash(tmp_path: Path) -> None:
    """If this fails, a few connections hammering the token endpoint (a scrypt hash each) take
    the CPU that legitimate requests need."""
    with _box(tmp_path, token_rate_per_address=0.01, token_burst_per_address=3) as box:
        statuses = [_wrong_secret(box).status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        refused = _wrong_secret(box)
        assert int(refused.headers["retry-after"]) >= 1


def test_a_client_over_its_rate_gets_429_before_any_signature_work(tmp_path: Path) -> None:
    """If this fails, one client can take the whole IBR's capacity."""
    with _box(tmp_path, rate_per_client=0.01, burst_per_client=3) as box:
        replies = [box.spmis.send(SEARCH, "search", search_message("NID", "1")) for _ in range(5)]
        assert [r.status_code for r in replies] == [200, 200, 200, 429, 429]
        assert int(replies[3].headers["retry-after"]) >= 1
        error = replies[3].json()["message"]["error"]
        assert error["code"] == "err.request.too_many_requests"


def test_an_address_over_its_rate_gets_429_even_without_a_token(tmp_path: Path) -> None:
    """If this fails, unauthenticated floods reach the token check and the body parser."""
    with _box(tmp_path, rate_per_address=0.01, burst_per_address=4) as box:
        url = f"{box.spmis.base_url}{SEARCH}"
        statuses = [box.spmis.http.post(url, json={}).status_code for _ in range(6)]
        assert statuses == [401, 401, 401, 401, 429, 429]


def test_throttle_buckets_refill_at_the_configured_rate() -> None:
    """If this fails, a throttled caller is locked out for good, or never throttled."""
    now = [0.0]
    throttle = Throttle(RateLimit(rate=2.0, burst=2), what="requests", clock=lambda: now[0])
    throttle.hit("a")
    throttle.hit("a")
    with pytest.raises(TooManyRequestsError) as refused:
        throttle.hit("a")
    assert refused.value.headers == {"Retry-After": "1"}
    throttle.hit("b")  # another key has its own bucket
    now[0] = 0.5
    throttle.hit("a")  # one request refilled after 1/rate seconds


def test_an_unknown_client_costs_the_same_hash_as_a_wrong_secret(
    any_ibr: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, an unknown client id answers faster than a known one (id enumeration by
    timing): both must run one scrypt verification of the same cost parameters."""
    seen: list[str] = []
    real = clients_module.verify_secret

    def spy(secret: str, stored: str) -> bool:
        seen.append(stored.rsplit("$", 2)[0])  # scrypt$n$r$p: the cost, not the salt
        return real(secret, stored)

    monkeypatch.setattr(clients_module, "verify_secret", spy)
    for client_id in ("no-such-client", any_ibr.spmis.sender_id):
        with pytest.raises(AuthenticationError):
            authenticate_client(any_ibr.host.store, client_id, "wrong")
    assert len(seen) == 2
    assert seen[0] == seen[1]


def test_refusals_are_logged_as_json_lines_without_personal_data(
    any_ibr: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, refusals leave no trace (IBR-SEC-007) or the log holds personal data."""
    item = person_beneficiary("LOGGED-1")
    item["member"]["demographic_info"]["name"]["given_name"] = "MARKER"
    envelope = any_ibr.spmis.envelope(
        "notify",
        {
            "transaction_id": "t-log",
            "enrolled_updates": {"receipt_type": "enrollment", "beneficiaries": [item]},
        },
    )
    text = json.dumps(envelope).replace('"MARKER"', '"Zelda"')  # breaks the signature
    with caplog.at_level("WARNING", logger="ibr.refusals"):
        reply = any_ibr.spmis.http.post(
            f"{any_ibr.spmis.base_url}/registry/sync/enrollment/updates",
            content=text,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {any_ibr.spmis.token()}",
            },
        )
    assert reply.status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "ibr.refusals"]
    assert lines, "no refusal was logged"
    record = json.loads(lines[-1])
    assert record["event"] == "request.refused"
    assert record["operation"] == "/sync/enrollment/updates"  # the route, under every prefix
    assert record["code"] == "err.signature.invalid"
    assert record["message_id"] == envelope["header"]["message_id"]
    assert record["sender_id"] == f"claimed:{any_ibr.spmis.sender_id}"
    assert "Zelda" not in lines[-1]
    assert "LOGGED-1" not in lines[-1]


def test_metrics_count_requests_refusals_and_ingest(any_ibr: Sandbox) -> None:
    """If this fails, an operator cannot see load, refusals or ingest in Prometheus."""
    any_ibr.spmis.send(
        "/registry/sync/enrollment/updates",
        "notify",
        {
            "transaction_id": "t-metrics",
            "enrolled_updates": {
                "receipt_type": "enrollment",
                "beneficiaries": [person_beneficiary("METRICS-1")],
            },
        },
    )
    any_ibr.spmis.http.post(f"{any_ibr.spmis.base_url}{SEARCH}", json={})
    reply = any_ibr.spmis.http.get(f"{any_ibr.spmis.base_url}/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert 'ibr_requests_total{method="POST",operation="/sync/search",status="401"}' in text
    assert 'ibr_refusals_total{code="err.request.unauthorized",operation="/sync/search"}' in (text)
    assert 'ibr_ingest_items_total{status="succ"}' in text
    assert 'ibr_request_seconds_bucket{le="0.005",operation="/sync/enrollment/updates"}' in (text)
    assert "ibr_outbox_deliveries_total" in text
