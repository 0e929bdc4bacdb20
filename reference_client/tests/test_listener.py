"""One receiver per configuration: `ibr-client listen` and the asynchronous commands (`search
--async`, `subscribe`, `unsubscribe`) never fight over the receiver's port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import ibr_client.cli as cli_module
from ibr_client.cli import app
from ibr_client.listener import bind_socket
from ibr_client.server import EmbeddedServer

from .conftest import StandaloneIbr, cli_env, free_port, standalone_env

runner = CliRunner()
IBR_CLIENT_BIN = str(Path(sys.executable).with_name("ibr-client"))
FILTER = {
    "type": "expression",
    "value": {"expression": {"query": {"programme_identifier": {"eq": "LISTENER-TEST"}}}},
}


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def _one_line(result: Any) -> str:
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return str(lines[0])


def test_listen_on_a_taken_port_says_so_in_one_line(
    tmp_path: Path, sp_key: dict[str, Any], fake_ibr_url: str, taken_port: int
) -> None:
    """If this fails, `ibr-client listen` on a busy port ends in uvicorn's log and a traceback
    instead of saying which port is taken and how to choose another."""
    env = cli_env(tmp_path, sp_key, fake_ibr_url)
    result = runner.invoke(app, ["listen", "--port", str(taken_port)], env=env)
    assert result.exit_code == 1
    assert _one_line(result) == (
        f"error: configuration: listen_port: 127.0.0.1:{taken_port} is taken by another "
        "program; stop it or choose a free port (--port, listen_port or IBR_CLIENT_LISTEN_PORT)"
    )


def test_an_async_command_on_a_taken_port_says_so_in_one_line(
    tmp_path: Path, sp_key: dict[str, Any], fake_ibr: Any, fake_ibr_url: str, taken_port: int
) -> None:
    """If this fails, `subscribe` (or `search --async`) crashes with `Address already in use`
    when another program holds the receiver's port."""
    env = cli_env(tmp_path, sp_key, fake_ibr_url, listen_port=str(taken_port))
    for command in (
        ["subscribe", "--event", "enrollement", "--filter", json.dumps(FILTER)],
        ["search", "NID", "1", "--async"],
    ):
        result = runner.invoke(app, command, env=env)
        assert result.exit_code == 1, result.output
        assert f"listen_port: 127.0.0.1:{taken_port} is taken" in _one_line(result)
    assert fake_ibr.async_requests == [], "nothing may be sent when callbacks cannot arrive"


def _start_listener(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [IBR_CLIENT_BIN, "listen"],
            env={**os.environ, **env, "NO_COLOR": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{env['IBR_CLIENT_LISTEN_PORT']}/health"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"ibr-client listen did not start: {log.read_text()}")


@pytest.mark.slow
def test_async_commands_use_the_running_listener_of_their_configuration(
    standalone_ibr: StandaloneIbr, tmp_path: Path
) -> None:
    """If this fails, an operator running `ibr-client listen` cannot also run `subscribe`,
    `unsubscribe` or `search --async` with the same configuration (`Address already in use`),
    or a second `listen` starts over the first one."""
    env = standalone_env(standalone_ibr, tmp_path)
    log = tmp_path / "listen.log"
    listener = _start_listener(env, log)
    port = env["IBR_CLIENT_LISTEN_PORT"]
    try:
        subscribed = runner.invoke(
            app,
            ["subscribe", "--event", "enrollement", "--filter", json.dumps(FILTER), "--json"],
            env=env,
        )
        assert subscribed.exit_code == 0, subscribed.output
        assert f"callbacks arrive at the running ibr-client listen at http://127.0.0.1:{port}" in (
            subscribed.stderr
        )
        item = json.loads(subscribed.stdout)["subscribe_response"][0]
        assert item["status"] == "succ", item
        code = item["subscriptions"][0]["code"]

        searched = runner.invoke(app, ["search", "NID", "404404404", "--async", "--json"], env=env)
        assert searched.exit_code == 0, searched.output
        assert json.loads(searched.stdout)["search_response"][0]["status"] in ("succ", "rjct")

        ended = runner.invoke(app, ["unsubscribe", code, "--json"], env=env)
        assert ended.exit_code == 0, ended.output

        second = runner.invoke(app, ["listen"], env=env)
        assert second.exit_code == 1
        assert _one_line(second).startswith(
            "error: configuration: listen: an `ibr-client listen` of this state_dir already "
            f"runs at http://127.0.0.1:{port} (pid {listener.pid})"
        )
    finally:
        listener.send_signal(signal.SIGINT)
        listener.wait(timeout=30)
    shown = log.read_text()
    assert "on-subscribe for transaction" in shown
    assert "on-search for transaction" in shown
    assert "on-unsubscribe for transaction" in shown
    assert not (tmp_path / "state" / "listener.json").exists(), "a stopped listener must not count"


def test_listen_with_the_trigger_api_sends_its_own_url_as_callback_base(
    tmp_path: Path,
    sp_key: dict[str, Any],
    fake_ibr: Any,
    fake_ibr_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If this fails, `ibr-client listen --trigger` without callback_url refuses every
    triggered search or subscribe (a test kit gets ERR) instead of naming itself as the
    callback receiver."""
    answers: list[httpx.Response] = []

    def serve_once(asgi: Any, sock: socket.socket) -> None:
        server = EmbeddedServer(sock=sock).start(asgi)
        try:
            answers.append(
                httpx.post(
                    server.url + "/trigger/search",
                    json={"query_type": "idtype-value", "query": {"type": "UIN", "value": "1"}},
                    timeout=30,
                )
            )
        finally:
            server.stop()

    monkeypatch.setattr(cli_module, "serve_forever", serve_once)
    port = free_port()
    result = runner.invoke(
        app,
        ["listen", "--trigger", "--port", str(port)],
        env=cli_env(tmp_path, sp_key, fake_ibr_url),
    )
    assert result.exit_code == 0, result.output
    [answer] = answers
    assert answer.status_code == 202, answer.text
    assert answer.json()["ack_status"] == "ACK"
    sent = fake_ibr.async_requests[-1]["header"]["sender_uri"]
    assert sent == f"http://127.0.0.1:{port}/registry/on-search"


def test_the_receiver_socket_is_tcp_so_answers_are_not_delayed_by_nagle() -> None:
    """If this fails, asyncio does not set TCP_NODELAY on the receiver's connections (it does
    so only for sockets whose proto is IPPROTO_TCP) and every answer waits for a delayed ACK:
    the receiver served about 21 instead of 900 requests a second on one connection."""
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
