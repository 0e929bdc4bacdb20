"""Shared by the serving benchmarks: `ibr serve` in a subprocess, a registered SP-MIS, and a
raw keep-alive HTTP/1.1 load generator cheap enough not to steal the server's CPU."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from ibr_protocol import generate_signing_key, public_jwk
from ibr_protocol.clock import utc_now
from ibr_service.security.clients import register_client
from ibr_service.store_sql import SqlStore

LOG_DIR = Path(tempfile.gettempdir())


def drop_database(name: str) -> None:
    """Drop a benchmark's database at the end of its run."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SpMis:
    sender_id: str
    secret: str
    private_jwk: dict[str, Any] = field(repr=False)


def register_spmis(
    database_url: str, sender_id: str = "SP-Bench", callback_targets: Sequence[str] = ()
) -> SpMis:
    """A client allowed every scope and loopback callbacks (to ``callback_targets``, e.g.
    ``127.0.0.1:PORT`` of the benchmark's receiver), with a fresh signing key."""
    key = generate_signing_key("bench-1")
    store = SqlStore.from_url(database_url)
    try:
        _, secret = register_client(
            store,
            sender_id=sender_id,
            now=utc_now(),
            public_keys=[public_jwk(key)],
            allowed_callback_hosts=tuple(callback_targets),
            allow_private_callbacks=True,
        )
    finally:
        store.engine.dispose()
    return SpMis(sender_id=sender_id, secret=secret, private_jwk=key)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited ({process.returncode}); see {log}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    sys.exit(f"the server did not answer {url} within {seconds:.0f} s; see {log}")


@contextmanager
def running(
    command: Sequence[str], env: dict[str, str], health_url: str, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the block ends (yields its process); its output goes to a log file
    named after `name`."""
    log = LOG_DIR / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(list(command), env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_until_up(health_url, process, log, 90)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def serve_command(port: int, workers: int) -> list[str]:
    """`ibr serve` of the code on this interpreter's path (PYTHONPATH selects a checkout)."""
    command = [sys.executable, "-c", "from ibr_service.cli import app; app()", "serve"]
    command += ["--port", str(port)]
    return command + (["--workers", str(workers)] if workers > 1 else [])


def serve_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked IBR: no rate limits (one client sends everything)."""
    return {
        **os.environ,
        "IBR_DATABASE_URL": database_url,
        "IBR_RATE_PER_CLIENT": "0",
        "IBR_RATE_PER_ADDRESS": "0",
        **extra,
    }


def bearer_token(base_url: str, spmis: SpMis) -> str:
    reply = httpx.post(
        f"{base_url}/oauth2/client/token",
        data={
            "grant_type": "client_credentials",
            "client_id": spmis.sender_id,
            "client_secret": spmis.secret,
        },
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


@dataclass
class LoadResult:
    latencies_ms: list[float]
    seconds: float
    statuses: Counter[int]
    errors: list[str]
    answers: list[tuple[float, float, bytes]] = field(repr=False)
    """(sent at, answered at, body) of each request, perf_counter seconds."""

    def summary(self) -> dict[str, Any]:
        cuts = statistics.quantiles(self.latencies_ms, n=100)
        return {
            "requests": len(self.latencies_ms),
            "requests_per_s": round(len(self.latencies_ms) / self.seconds, 1),
            "p50_ms": round(cuts[49], 2),
            "p95_ms": round(cuts[94], 2),
            "p99_ms": round(cuts[98], 2),
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            **({"first_error": self.errors[0]} if self.errors else {}),
        }


async def _connection(
    port: int,
    requests: list[bytes],
    latencies: list[float],
    statuses: Counter[int],
    errors: list[str],
    answers: list[tuple[float, float, bytes]],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = -1
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length < 0:
                raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
            answer = await reader.readexactly(length)
            finished = time.perf_counter()
            latencies.append((finished - started) * 1000)
            answers.append((started, finished, answer))
            status = int(lines[0].split()[1])
            statuses[status] += 1
            if status >= 300 and not errors:
                errors.append(answer[:300].decode(errors="replace"))
    finally:
        writer.close()


def http_request(path: str, body: bytes, token: str | None = None) -> bytes:
    """One keep-alive HTTP/1.1 POST, ready to write to a socket."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def run_load(port: int, requests: list[bytes], concurrency: int) -> LoadResult:
    """Send `requests` over `concurrency` connections, each waiting for one answer at a time."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    answers: list[tuple[float, float, bytes]] = []
    shares = [requests[i::concurrency] for i in range(concurrency)]

    async def all_connections() -> None:
        await asyncio.gather(
            *(_connection(port, s, latencies, statuses, errors, answers) for s in shares)
        )

    started = time.perf_counter()
    asyncio.run(all_connections())
    seconds = time.perf_counter() - started
    return LoadResult(latencies, seconds, statuses, errors, answers)


class CallbackReceiver:
    """The SP-MIS callback endpoint (answers 200 ACK): arrival time and item statuses of each
    callback by correlation id."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[tuple[float, Any]]] = {}
        self.unreadable = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (event := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            event = await receive()
            body += event.get("body", b"")
            more = event.get("more_body", False)
        arrived = time.perf_counter()
        try:
            message = json.loads(body)["message"]
            correlation_id = str(message["correlation_id"])
            statuses = [item.get("status") for item in message.get("search_response", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            with self._lock:
                self.unreadable += 1
        else:
            with self._lock:
                self.arrivals.setdefault(correlation_id, []).append((arrived, statuses))
        payload = b'{"message":{"ack_status":"ACK"}}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def received(self, correlation_ids: set[str]) -> int:
        with self._lock:
            return sum(1 for cid in correlation_ids if cid in self.arrivals)

    def count(self) -> int:
        with self._lock:
            return sum(len(times) for times in self.arrivals.values())
