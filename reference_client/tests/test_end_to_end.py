"""The reference client against the standalone IBR, started as an operator would
(``ibr db upgrade``, ``ibr clients add``, ``ibr serve``) on loopback with a SQLite database.

Every request the SDK sends passes through an httpx request hook that validates it with
openapi-core against spec/openapi.yaml (a validating proxy inside the client process).
These tests must fail, not skip, when the service or its command line is missing.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

import ibr_protocol as proto
from ibr_client import IbrClient, ReferenceSpMis, load_config, push_file
from ibr_client.push import CSV_COLUMNS

pytestmark = pytest.mark.slow

IBR_BIN = str(Path(sys.executable).with_name("ibr"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StandaloneIbr:
    url: str
    env: dict[str, str]
    secrets: dict[str, str]
    keys: dict[str, dict[str, Any]]


def _ibr(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [IBR_BIN, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"ibr {' '.join(args)} failed: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def standalone_ibr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneIbr]:
    root = tmp_path_factory.mktemp("ibr")
    env = {
        **os.environ,
        "IBR_DATABASE_URL": f"sqlite:///{root / 'ibr.db'}",
        "IBR_OUTBOX_POLL_SECONDS": "0.2",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    _ibr(env, "db", "upgrade")
    secrets: dict[str, str] = {}
    keys: dict[str, dict[str, Any]] = {}
    for sender in ("pension-mis", "crvs-mis"):
        keys[sender] = proto.generate_signing_key(f"{sender}-1")
        public = root / f"{sender}.public.json"
        public.write_text(json.dumps(proto.public_jwk(keys[sender])))
        out = _ibr(
            env,
            "clients",
            "add",
            sender,
            "--public-key",
            str(public),
            "--callback-host",
            "127.0.0.1",
            "--allow-private-callbacks",
        )
        found = re.search(r"client_secret:\s*(\S+)", out)
        assert found, out
        secrets[sender] = found.group(1)
    port = _free_port()
    server = subprocess.Popen(
        [IBR_BIN, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/.well-known/jwks.json", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"ibr serve did not start: {server.stdout.read() if server.stdout else ''}")
        time.sleep(0.2)
    yield StandaloneIbr(url, env, secrets, keys)
    server.terminate()
    server.wait(timeout=20)


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


def _sp_mis(
    ibr: StandaloneIbr, sender: str, tmp: Path, openapi: OpenAPI, seen: list[str]
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
            "listen_port": 0,
            "state_dir": str(tmp / sender),
            "batch_size": 2,
        },
    )
    return ReferenceSpMis(config, http=_validating_http(openapi, seen)).start_receiver()


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
    """If this fails, the reference SP-MIS cannot complete a standard process with our IBR."""
    seen: list[str] = []
    pension = _sp_mis(standalone_ibr, "pension-mis", tmp_path, openapi, seen)
    crvs = _sp_mis(standalone_ibr, "crvs-mis", tmp_path, openapi, seen)
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
        code = subscribed.model_dump(mode="json", by_alias=True, exclude_none=True)[
            "subscribe_response"
        ][0]["subscriptions"][0]["code"]

        # Another SP-MIS (the civil registry) reports a death.
        record = copy.deepcopy(records[0])
        enrolment = record["programme_identifier"][0]
        enrolment["enrolment_status"] = "2"
        enrolment["status_change_date"] = "2025-03-08"
        record["member"]["demographic_info"]["death_date"] = "2025-03-08"
        crvs.client.report_status_changes([record])

        deadline = time.monotonic() + 30
        while not pension.store.callbacks(action="notify"):
            arrived = [c.action for c in pension.store.callbacks()]
            assert time.monotonic() < deadline, (
                f"no notify arrived after the death was reported; callbacks stored: {arrived}"
            )
            time.sleep(0.2)

        unsubscribed = client.unsubscribe([code]).result(timeout=30)
        assert (
            unsubscribed.model_dump(mode="json", by_alias=True, exclude_none=True)["status"]
            == "succ"
        )
    finally:
        pension.close()
        crvs.close()
    assert "/registry/sync/enrollment/updates" in seen
    assert "/registry/subscribe" in seen
