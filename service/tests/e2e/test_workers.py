"""`ibr serve --workers 2`: both workers answer, and the outbox runs once, in one process.

The server runs as a real subprocess tree on a fresh SQLite file; the test reads the tree from
/proc (Linux), so it checks the processes, not only their answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ibr_protocol.clock import utc_now
from ibr_service.api.loopback import CallbackRecorder, serve_in_thread
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import migrate
from ibr_service.cli.spmis import ScriptedSpMis, enrollment_message, search_message
from ibr_service.security.clients import register_client, set_callback_targets
from ibr_service.store_sql import SqlStore

from .conftest import free_port, ibr_command

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)"),
]


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, with its command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                try:
                    raw = (Path("/proc") / str(child) / "cmdline").read_bytes()
                except OSError:
                    continue
                found[child] = raw.replace(b"\0", b" ").decode(errors="replace")
                frontier.append(child)
    return found


def environment_of(pid: int) -> dict[str, str]:
    raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(): value.decode(errors="replace") for key, _, value in pairs}


@pytest.fixture
def two_worker_server(server_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    migrate(server_env["IBR_DATABASE_URL"])
    port = free_port()
    process = subprocess.Popen(
        [*ibr_command(), "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **server_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, "ibr serve --workers 2 exited at start"
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("ibr serve --workers 2 did not become ready in 60 s")
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                for child in descendants(process.pid):
                    os.kill(child, signal.SIGKILL)
                process.kill()
                process.wait()


def worker_and_outbox_processes(pid: int) -> tuple[list[int], list[int]]:
    tree = descendants(pid)
    outbox = [child for child, command in tree.items() if "outbox run" in command]
    workers = [child for child, command in tree.items() if "spawn_main" in command]
    return workers, outbox


def test_two_workers_answer_and_deliver_a_callback_exactly_once(
    server_env: dict[str, str],
    two_worker_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    """If this fails, --workers does not start the workers, or runs the outbox per worker
    (or not at all), or a callback is lost or sent twice."""
    process, url = two_worker_server
    workers, outbox = worker_and_outbox_processes(process.pid)
    assert len(outbox) == 1, descendants(process.pid)
    assert len(workers) == 2, descendants(process.pid)
    # The outbox process delivers; every worker has its in-process outbox switched off.
    assert all(environment_of(worker).get("IBR_RUN_OUTBOX") == "false" for worker in workers)

    database_url = server_env["IBR_DATABASE_URL"]
    store = SqlStore.from_url(database_url)
    spmis = ScriptedSpMis(base_url=url, sender_id="workers.spmis", client_secret="")
    _, spmis.client_secret = register_client(
        store,
        sender_id="workers.spmis",
        now=utc_now(),
        public_keys=[spmis.public_jwk],
        allowed_callback_hosts=[],  # the receiver's host:port, set once it listens
        allow_private_callbacks=True,
    )
    receiver = CallbackRecorder()
    try:
        with serve_in_thread(receiver.app) as receiver_url:
            set_callback_targets(
                store, "workers.spmis", [receiver_url.removeprefix("http://")], now=utc_now()
            )
            loaded = spmis.send(
                "/registry/sync/enrollment/updates",
                "notify",
                enrollment_message(builtin_beneficiaries()),
            )
            assert loaded.status_code == 200, loaded.text
            # New connections each time, so that both workers get some of them.
            for _ in range(6):
                spmis.http.close()
                spmis.http = httpx.Client(timeout=30.0)
                found = spmis.send(
                    "/registry/sync/search", "search", search_message("NID", "1000000003")
                )
                assert found.status_code == 200, found.text
            ack = spmis.send(
                "/registry/search",
                "search",
                search_message("NID", "1000000003"),
                sender_uri=f"{receiver_url}/registry/on-search",
            ).json()["message"]
            assert ack["ack_status"] == "ACK", ack
            arrived = receiver.wait_for(1, timeout=30)
            assert len(arrived) == 1, arrived
            time.sleep(2.0)  # a second dispatcher would send it again within a few polls
            correlations = [body["message"]["correlation_id"] for _, body in receiver.received]
            assert correlations == [ack["correlation_id"]]
    finally:
        spmis.http.close()
        store.engine.dispose()


def test_stopping_the_server_stops_its_outbox_process(
    two_worker_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, _ = two_worker_server
    _, outbox = worker_and_outbox_processes(process.pid)
    assert len(outbox) == 1
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{outbox[0]}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{outbox[0]}").exists(), "the outbox process outlived the server"


def test_dci_sandbox_refuses_workers(tmp_path: Path) -> None:
    result = subprocess.run(
        [*ibr_command(), "serve", "--dci-sandbox", "--workers", "2"],
        env={**os.environ, "IBR_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "--workers" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
