"""The reference client against the standalone IBR, started as an operator would
(``ibr db upgrade``, ``ibr clients add``, ``ibr serve``) on loopback with a SQLite database.

Every request the SDK sends passes through an httpx request hook that validates it with
openapi-core against spec/openapi.yaml (a validating proxy inside the client process).
These tests must fail, not skip, when the service or its command line is missing.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

import ibr_protocol as proto
from ibr_client import IbrClient, ReferenceSpMis, load_config, push_file
from ibr_client.push import CSV_COLUMNS
from ibr_client.store import StoredCallback

from .conftest import CALLBACK_SECRET, IBR_ID, StandaloneIbr

pytestmark = pytest.mark.slow


def _validating_http(openapi: OpenAPI, seen: list[str]) -> httpx.Client:
    def check(request: httpx.Request) -> None:
        request.read()
        openapi.validate_request(
            MockRequest(
                "https://ibr.test",
                request.method.lower(),
                request.url.path,
                headers=dict(request.headers),
                data=request.content,
                content_type=request.headers.get("content-type", "application/json"),
            )
        )
        seen.append(request.url.path)

    return httpx.Client(timeout=30, event_hooks={"request": [check]})


class _PathRecordingSpMis(ReferenceSpMis):
    """The reference SP-MIS whose receiver also records the path of every callback POST."""

    def __init__(self, *args: Any, paths: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paths = paths

    def receiver_app(self) -> FastAPI:
        app = super().receiver_app()

        @app.middleware("http")
        async def record_path(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            self.paths.append(request.url.path)
            return await call_next(request)

        return app


def _sp_mis(
    ibr: StandaloneIbr,
    sender: str,
    tmp: Path,
    openapi: OpenAPI,
    seen: list[str],
    paths: list[str],
) -> ReferenceSpMis:
    key_file = tmp / f"{sender}.jwk.json"
    key_file.write_text(json.dumps(ibr.keys[sender]))
    config = load_config(
        env={},
        overrides={
            "ibr_url": ibr.url,
            "client_id": sender,
            "client_secret": ibr.secrets[sender],
            "sender_id": sender,
            "signing_key_file": str(key_file),
            "listen_port": ibr.receiver_port(sender),
            "ibr_client_secret": CALLBACK_SECRET,
            "state_dir": str(tmp / sender),
            "batch_size": 2,
        },
    )
    sp_mis = _PathRecordingSpMis(config, http=_validating_http(openapi, seen), paths=paths)
    return sp_mis.start_receiver()


def _subscribe_to_pen1(client: IbrClient) -> str:
    subscribed = client.subscribe(
        reg_event_type="enrollement_status_change",
        filter_type="predicate",
        filter_=[
            {
                "seq_num": 1,
                "expression1": {
                    "attribute_name": "programme_identifier",
                    "operator": "eq",
                    "attribute_value": "PEN-1",
                },
            }
        ],
    ).result(timeout=30)
    answer = subscribed.model_dump(mode="json", by_alias=True, exclude_none=True)
    return str(answer["subscribe_response"][0]["subscriptions"][0]["code"])


def _wait_for_notify(sp_mis: ReferenceSpMis, *, count: int) -> list[StoredCallback]:
    deadline = time.monotonic() + 30
    while len(notifies := sp_mis.store.callbacks(action="notify")) < count:
        arrived = [c.action for c in sp_mis.store.callbacks()]
        assert time.monotonic() < deadline, (
            f"{sp_mis.config.sender_id}: {len(notifies)} notify of {count} after 30 s; "
            f"callbacks stored: {arrived}"
        )
        time.sleep(0.2)
    return notifies


def _assert_receiver_verifies_signatures(sp_mis: ReferenceSpMis) -> None:
    """The stored notify passed signature verification: the same body unsigned (with a valid
    token) is refused."""
    assert sp_mis.server is not None
    stored = sp_mis.store.callbacks(action="notify")[0]
    unsigned = {"header": stored.header, "message": stored.message}
    token = httpx.post(
        sp_mis.server.url + "/oauth2/client/token",
        data={
            "grant_type": "client_credentials",
            "client_id": IBR_ID,
            "client_secret": CALLBACK_SECRET,
        },
        timeout=10,
    ).json()["access_token"]
    answer = httpx.post(
        sp_mis.server.url + "/registry/notify",
        json=unsigned,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["message"]["error"]["code"] == "err.signature.missing"


def _csv(path: Path, people: int) -> Path:
    rows = [
        "identifier_type,identifier_value,programme_identifier,programme_name,enrolment_date,"
        "given_name,surname,sex,birth_date,benefit_type,benefit_date,benefit_amount,"
        "benefit_currency"
    ]
    for i in range(people):
        for month in ("2024-05-02", "2024-06-02"):
            rows.append(
                f"NID,77{i:04d},PEN-1,Old-age pension,2024-04-12,Ama,P{i},female,"
                f"1950-01-01,Cash,{month},50.00,USD"
            )
    assert set(rows[0].split(",")) <= set(CSV_COLUMNS)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_every_standard_process_against_the_standalone_ibr(
    standalone_ibr: StandaloneIbr, tmp_path: Path, openapi: OpenAPI
) -> None:
    """If this fails, the reference SP-MIS cannot complete a standard process with our IBR; in
    PRS.IBR.03, a death reported by another SP-MIS would never reach the subscribed programme,
    or an unsubscribed programme would keep receiving events."""
    seen: list[str] = []
    pension_paths: list[str] = []
    pension = _sp_mis(standalone_ibr, "pension-mis", tmp_path, openapi, seen, pension_paths)
    crvs = _sp_mis(standalone_ibr, "crvs-mis", tmp_path, openapi, seen, [])
    try:
        client: IbrClient = pension.client
        # Interrupted push, then resume: no duplicate benefit in the IBR.
        source = _csv(tmp_path / "people.csv", 5)

        def interrupt(count: int, index: int) -> None:
            if index == 1:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            push_file(client, source, on_batch=interrupt)
        report = push_file(client, source)
        assert (report.batches_skipped, report.batches_sent) == (2, 1)
        assert report.items_rejected == 0

        found = client.search([{"type": "NID", "value": "770000"}])
        records = found.model_dump(mode="json", by_alias=True, exclude_none=True)[
            "search_response"
        ][0]["data"]["reg_records"]
        benefits = [
            b for r in records for e in r["programme_identifier"] for b in e.get("benefits", [])
        ]
        assert len(benefits) == 2, "a resumed push must not duplicate benefits"

        single = client.enrolled("NID", "770004")
        assert single.enrolled_response[0].enrolled_status == "yes"
        bulk = client.enrolled_bulk([("NID", "770001"), ("NID", "999999")])
        assert [i.enrolled_status for i in bulk[0].enrolled_response] == ["yes", "no"]

        handle = client.search_async([{"type": "NID", "value": "770002"}])
        answer = handle.result(timeout=30)
        assert answer.transaction_id == handle.transaction_id

        status = client.txn_status(handle.transaction_id)
        assert status.transaction_id

        # PRS.IBR.03: subscribe -> on-subscribe -> another SP-MIS reports a death -> notify.
        code = _subscribe_to_pen1(client)
        assert "/registry/on-subscribe" in pension_paths
        # The civil registry watches the same events: it is the positive control that proves,
        # after the pension MIS unsubscribes, that an event happened and was notified.
        _subscribe_to_pen1(crvs.client)

        record = copy.deepcopy(records[0])
        enrolment = record["programme_identifier"][0]
        enrolment["enrolment_status"] = "2"
        enrolment["status_change_date"] = "2025-03-08"
        record["member"]["demographic_info"]["death_date"] = "2025-03-08"
        crvs.client.report_status_changes([record])

        (notify,) = _wait_for_notify(pension, count=1)
        proto.validate(notify.message, "messages/notify_event_request")
        (event,) = notify.message["notify_event"]
        assert event["subscription_code"] == code
        assert notify.header["status"] == "succ"
        (person,) = event["data"]["reg_records"]
        assert person["member"]["demographic_info"]["death_date"] == "2025-03-08"
        assert person["programme_identifier"][0]["enrolment_status"] == "2"
        assert "/registry/notify" in pension_paths, "notify goes to the base + /registry/notify"
        _assert_receiver_verifies_signatures(pension)

        unsubscribed = client.unsubscribe([code]).result(timeout=30)
        answer = unsubscribed.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert answer["status"] == "succ"
        assert answer["subscription_status"] == [{"code": code, "status": "unsubscribe"}]
        assert "/registry/on-unsubscribe" in pension_paths

        # A further status change (the death withdrawn by the programme that reported it, as
        # the IBR's transition rules require) reaches the civil registry but not the pension MIS.
        enrolment["enrolment_status"] = "1"
        enrolment["status_change_date"] = "2025-03-09"
        enrolment["status_reason"] = "correction"
        del record["member"]["demographic_info"]["death_date"]
        (withdrawn,) = crvs.client.report_status_changes([record])
        assert withdrawn.enrolled_response[0].status == "succ", withdrawn
        _wait_for_notify(crvs, count=2)
        time.sleep(1.0)  # the same outbox pass delivered both; give a stray one time to land
        assert len(pension.store.callbacks(action="notify")) == 1, "unsubscribed, yet notified"
    finally:
        pension.close()
        crvs.close()
    assert "/registry/sync/enrollment/updates" in seen
    assert "/registry/subscribe" in seen
