"""Signed sync/enrolled and sync/search by ID over HTTP against `ibr serve` on PostgreSQL.

Loads --population sample beneficiaries into a fresh PostgreSQL database, starts `ibr serve`
(--workers N) in a subprocess on loopback, registers an SP-MIS and, before any timing, signs
distinct envelopes (replay protection refuses a reused message_id). Then, at each --concurrency
(keep-alive connections, one request in flight each), sends --requests sync/enrolled requests and
as many sync/search requests by ID, and prints one JSON object with requests/s and p50/p95/p99.

The baseline, measured in the same run: a bare ASGI app under uvicorn (same worker count) doing
the same indexed lookup on the same database for the same request bodies (parse JSON, one
query on a connection pool, JSON answer; no token, signature, validation or audit):
`ratio_to_bare` = IBR requests/s / bare requests/s.

    .venv/bin/python benchmarks/api_enrolled.py --population 20000 --requests 1000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pg import scratch_database
from _served_ibr import (
    bearer_token,
    free_port,
    http_request,
    register_spmis,
    run_load,
    running,
    serve_command,
    serve_env,
)

from ibr_protocol import build_request, sign_envelope
from ibr_service.cli.spmis import enrolled_message, search_message
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.samples import enrollment_message, person_beneficiary
from ibr_service.store_sql import SqlStore

ENROLLED_PATH = "/registry/sync/enrolled"
SEARCH_PATH = "/registry/sync/search"
GOALS = {
    "enrolled_requests_per_s": 2000,
    "enrolled_p99_ms": 15,
    "enrolled_ratio_to_bare": 0.5,
    "search_by_id_requests_per_s": 1000,
}

# ----------------------------------------------------------------- the bare ASGI baseline

BARE_ENROLLED_SQL = """
SELECT EXISTS (
  SELECT 1 FROM identifiers i JOIN enrolments e ON e.subject_key = i.subject_key
  WHERE i.identifier_value = %s AND e.enrolment_status = ANY(%s)
)"""
BARE_SEARCH_SQL = """
SELECT i.subject_key, e.programme_identifier, e.enrolment_status
FROM identifiers i JOIN enrolments e ON e.subject_key = i.subject_key
WHERE i.identifier_type = %s AND i.identifier_value = %s"""
BARE_POOL_SIZE = 8


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same indexed lookup, with nothing else (run by uvicorn in `--bare` mode)."""
    import orjson
    import psycopg

    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                pool: asyncio.Queue[Any] = asyncio.Queue()
                url = os.environ["BENCH_BARE_DSN"]
                for _ in range(BARE_POOL_SIZE):
                    pool.put_nowait(await psycopg.AsyncConnection.connect(url, autocommit=True))
                scope["state"]["pool"] = pool
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        event = await receive()
        body += event.get("body", b"")
        more = event.get("more_body", False)
    answer: Any = {"status": "ok"}
    if scope["method"] == "POST":
        message = orjson.loads(body)["message"]
        pool = scope["state"]["pool"]
        conn = await pool.get()
        try:
            if scope["path"] == ENROLLED_PATH:
                value = message["enrolled_criteria"]["query"]["attribute_value"]
                cursor = await conn.execute(BARE_ENROLLED_SQL, (value, ["1", "4"]))
                answer = {"enrolled": (await cursor.fetchone())[0]}
            else:
                query = message["search_request"][0]["search_criteria"]["query"]
                cursor = await conn.execute(BARE_SEARCH_SQL, (query["type"], query["value"]))
                answer = {"rows": await cursor.fetchall()}
        finally:
            pool.put_nowait(conn)
    payload = orjson.dumps(answer)
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


def bare_command(port: int, workers: int) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", "api_enrolled:bare_app", "--port", str(port)]
    command += ["--app-dir", str(Path(__file__).parent), "--log-level", "warning"]
    return [*command, "--workers", str(workers)]


# ----------------------------------------------------------------- the run


def load_population(database_url: str, population: int) -> None:
    store = SqlStore.from_url(database_url, pool_size=2)
    core = IbrCore(store, settings=CoreSettings())
    people = [person_beneficiary(f"{i:09d}") for i in range(population)]
    for i in range(0, len(people), 5000):
        core.enrollment_updates(enrollment_message(people[i : i + 5000]), caller=Caller("SP-Bench"))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    store.engine.dispose()


def signed_bodies(
    private_jwk: dict[str, Any],
    sender_id: str,
    action: str,
    messages: list[dict[str, Any]],
    *,
    sender_uri: str | None = None,
) -> list[bytes]:
    """Distinct signed envelopes (each has its own message_id), as JSON bytes."""
    bodies = []
    for message in messages:
        envelope = build_request(
            action=action,
            message=message,
            sender_id=sender_id,
            receiver_id="IBR",
            sender_uri=sender_uri,
        )
        bodies.append(json.dumps(sign_envelope(envelope, private_jwk)).encode())
    return bodies


@contextmanager
def profiled(pid: int, path: str | None) -> Iterator[None]:
    """py-spy sampling every thread of `pid` and its worker processes while the block runs."""
    if path is None:
        yield
        return
    spy_bin = Path(sys.executable).parent / "py-spy"
    command = [str(spy_bin) if spy_bin.exists() else "py-spy", "record", "--pid", str(pid)]
    command += ["--subprocesses", "--threads"]
    command += ["--idle", "--format", "raw", "--rate", "200", "--output", path]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint and level")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated levels")
    parser.add_argument("--workers", type=int, default=1, help="ibr serve --workers")
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="record the IBR server (all its processes) with py-spy into PATH (collapsed stacks)",
    )
    parser.add_argument(
        "--database-prefix",
        default="ibr_perf_api_enrolled",
        help="of the database made for the run",
    )
    args = parser.parse_args()
    with scratch_database(args.database_prefix) as url:
        measure(args, url)


def measure(args: argparse.Namespace, url: str) -> None:
    levels = [int(level) for level in args.concurrency.split(",")]
    load_population(url, args.population)
    spmis = register_spmis(url)
    rng = random.Random(7)

    def ids() -> list[str]:  # half enrolled people, half unknown
        return [f"{rng.randrange(args.population * 2):09d}" for _ in range(args.requests)]

    def sign(action: str, messages: list[dict[str, Any]]) -> list[bytes]:
        return signed_bodies(spmis.private_jwk, spmis.sender_id, action, messages)

    plans = {
        level: {
            ENROLLED_PATH: sign("search", [enrolled_message(v) for v in ids()]),
            SEARCH_PATH: sign("search", [search_message("NID", v) for v in ids()]),
        }
        for level in levels
    }

    results: dict[str, Any] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        running(
            serve_command(port, args.workers), serve_env(url), f"{base}/health", "bench-ibr-serve"
        ) as server,
        profiled(server.pid, args.profile),
    ):
        token = bearer_token(base, spmis)
        for level, bodies in plans.items():
            for path, payloads in bodies.items():
                requests = [http_request(path, body, token) for body in payloads]
                results.setdefault(path, {})[str(level)] = {
                    "ibr": run_load(port, requests, level).summary()
                }

    bare_port = free_port()
    bare_env = {**os.environ, "BENCH_BARE_DSN": url.replace("postgresql+psycopg", "postgresql")}
    with running(
        bare_command(bare_port, args.workers),
        bare_env,
        f"http://127.0.0.1:{bare_port}/health",
        "bench-bare-asgi",
    ):
        for level, bodies in plans.items():
            for path, payloads in bodies.items():
                requests = [http_request(path, body) for body in payloads]
                entry = results[path][str(level)]
                entry["bare"] = run_load(bare_port, requests, level).summary()
                entry["ratio_to_bare"] = round(
                    entry["ibr"]["requests_per_s"] / entry["bare"]["requests_per_s"], 3
                )

    print(
        json.dumps(
            {
                "benchmark": "api_enrolled",
                "backend": "postgresql",
                "cores": os.cpu_count(),
                "workers": args.workers,
                "population": args.population,
                "requests_per_level": args.requests,
                "sync_enrolled": results[ENROLLED_PATH],
                "sync_search_by_id": results[SEARCH_PATH],
                "goals": GOALS,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
