"""The ``ibr-client`` commands ``push``, ``subscribe``, ``unsubscribe`` and ``listen`` through
typer's CliRunner: the first three against the real standalone IBR, ``listen`` with a signed
notify posted to the receiver app the command serves.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import ibr_client.cli as cli_module
import ibr_protocol as proto
from ibr_client import IbrClient, load_config
from ibr_client.cli import app
from ibr_client.server import EmbeddedServer
from ibr_mock_data import GeneratorConfig
from ibr_mock_data.output import write_population

from .conftest import CALLBACK_SECRET, StandaloneIbr, free_port, standalone_env

runner = CliRunner()


@pytest.mark.slow
def test_push_reads_the_mock_data_beneficiaries_file(
    standalone_ibr: StandaloneIbr, tmp_path: Path
) -> None:
    """If this fails, `ibr-client push` cannot load the synthetic population that `ibr-mock`
    writes (jsonl/beneficiaries.jsonl), so a demo or a load test has nothing to push."""
    write_population(GeneratorConfig(people=25, country="KE", seed=7), tmp_path, ["jsonl"])
    source = tmp_path / "jsonl" / "beneficiaries.jsonl"
    records = [json.loads(line) for line in source.read_text().splitlines()]
    assert records, "the mock generator wrote no beneficiaries"
    env = standalone_env(standalone_ibr, tmp_path)

    result = runner.invoke(app, ["push", str(source), "--batch-size", "50"], env=env)
    assert result.exit_code == 0, result.output
    assert f"pushed {len(records)} record(s)" in result.stdout
    assert "0 item(s) rejected" in result.stdout

    config = load_config(env=env)
    identifier = records[0]["member"]["member_identifier"][0]
    with IbrClient(config) as client:
        answer = client.enrolled(identifier["identifier_type"], identifier["identifier_value"])
    assert answer.enrolled_response[0].enrolled_status == "yes"


@pytest.mark.slow
def test_subscribe_then_unsubscribe_on_the_command_line(
    standalone_ibr: StandaloneIbr, tmp_path: Path
) -> None:
    """If this fails, an operator cannot subscribe (or end a subscription) from the command
    line: the on-subscribe / on-unsubscribe callbacks do not reach the command's receiver."""
    env = standalone_env(standalone_ibr, tmp_path)
    filter_ = [
        {
            "seq_num": 1,
            "expression1": {
                "attribute_name": "programme_identifier",
                "operator": "eq",
                "attribute_value": "CLI-PROGRAMME",
            },
        }
    ]
    subscribed = runner.invoke(
        app,
        [
            "subscribe",
            "--event",
            "enrollement_status_change",
            "--filter",
            json.dumps(filter_),
            "--filter-type",
            "predicate",
            "--timeout",
            "30",
            "--json",
        ],
        env=env,
    )
    assert subscribed.exit_code == 0, subscribed.output
    item = json.loads(subscribed.stdout)["subscribe_response"][0]
    assert item["status"] == "succ", item
    code = item["subscriptions"][0]["code"]

    ended = runner.invoke(app, ["unsubscribe", code, "--timeout", "30", "--json"], env=env)
    assert ended.exit_code == 0, ended.output
    answer = json.loads(ended.stdout)
    assert answer["status"] == "succ"
    assert answer["subscription_status"] == [{"code": code, "status": "unsubscribe"}]


def test_listen_prints_each_verified_notify(
    tmp_path: Path,
    sp_key: dict[str, Any],
    fake_ibr: Any,
    sample_beneficiary: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If this fails, `ibr-client listen` does not serve the notify endpoint, accepts an
    unsigned notify, or does not show the operator what arrived."""
    key_file = tmp_path / "sp.jwk.json"
    key_file.write_text(json.dumps(sp_key))
    jwks_file = tmp_path / "ibr.jwks.json"
    jwks_file.write_text(json.dumps(fake_ibr.jwks))
    env = {
        "IBR_CLIENT_IBR_URL": "https://ibr.test",
        "IBR_CLIENT_CLIENT_ID": "pension-mis",
        "IBR_CLIENT_CLIENT_SECRET": "s3cret",
        "IBR_CLIENT_SENDER_ID": "pension-mis",
        "IBR_CLIENT_SIGNING_KEY_FILE": str(key_file),
        "IBR_CLIENT_IBR_JWKS_FILE": str(jwks_file),
        "IBR_CLIENT_STATE_DIR": str(tmp_path / "state"),
        "IBR_CLIENT_IBR_CLIENT_SECRET": CALLBACK_SECRET,
    }
    message = {
        "transaction_id": "txn-listen",
        "notify_event": [
            {
                "reference_id": "sub-9:1",
                "timestamp": proto.format_timestamp(None),
                "subscription_code": "sub-9",
                "data": {
                    "reg_event_type": "enrollement_status_change",
                    "reg_record_type": "Beneficiary",
                    "reg_records": [sample_beneficiary()],
                },
            }
        ],
    }
    answers: dict[str, int] = {}
    served: list[tuple[str, int]] = []
    port = free_port()

    def serve_once(asgi: Any, sock: socket.socket) -> None:
        # Serve the bound socket in a thread for one exchange instead of forever.
        served.append(sock.getsockname())
        server = EmbeddedServer(sock=sock).start(asgi)
        try:
            url = server.url + "/registry/notify"
            signed = fake_ibr.signed_callback("notify", message)
            auth = fake_ibr.bearer(server.url)
            answers["signed"] = httpx.post(url, json=signed, headers=auth, timeout=10).status_code
            unsigned = {k: v for k, v in signed.items() if k != "signature"}
            answers["unsigned"] = httpx.post(
                url, json=unsigned, headers=auth, timeout=10
            ).status_code
            answers["no token"] = httpx.post(url, json=signed, timeout=10).status_code
        finally:
            server.stop()

    monkeypatch.setattr(cli_module, "serve_forever", serve_once)
    result = runner.invoke(app, ["listen", "--port", str(port)], env=env)
    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", port)]
    assert answers == {"signed": 200, "unsigned": 401, "no token": 401}
    assert f"http://127.0.0.1:{port}/oauth2/client/token" in result.stderr
    assert "notify enrollement_status_change: 1 record(s) (subscription sub-9)" in result.stdout
    assert result.stdout.count("notify ") == 1, "the unsigned notify must not be shown"


@pytest.mark.slow
def test_the_ibr_accepts_dci_signature_strings_from_the_reference_sp_mis(
    standalone_ibr: StandaloneIbr, tmp_path: Path
) -> None:
    """If this fails, an SP-MIS configured with `signature_profile = "dci"` cannot talk to our
    IBR with signatures on (a client with the default policy, `required`), or the IBR accepts
    a DCI signature string made with a key it never registered."""
    env = {**standalone_env(standalone_ibr, tmp_path), "IBR_CLIENT_SIGNATURE_PROFILE": "dci"}
    signed = runner.invoke(app, ["enrolled", "NID", "DCI-SIG-1", "--json"], env=env)
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.stdout)["enrolled_response"][0]["status"] == "succ"

    kid = standalone_ibr.keys["pension-mis"]["kid"]
    forged_key = tmp_path / "forged.jwk.json"
    forged_key.write_text(json.dumps(proto.generate_signing_key(kid)))
    forged = runner.invoke(
        app,
        ["enrolled", "NID", "DCI-SIG-1"],
        env={**env, "IBR_CLIENT_SIGNING_KEY_FILE": str(forged_key)},
    )
    assert forged.exit_code == 1
    assert "err.signature.invalid" in forged.output
