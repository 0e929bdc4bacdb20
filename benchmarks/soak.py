"""Soak: --minutes of mixed signed traffic against `ibr serve` on PostgreSQL; errors and memory.

Creates a fresh PostgreSQL database unique to the run, starts `ibr serve` (--workers N) in a
subprocess on loopback and a callback receiver in this process, registers an SP-MIS whose only
callback target is that receiver (`127.0.0.1:PORT`), then sends, at a bounded --rate (requests
per second, one in flight at a time), a round robin of four kinds of signed requests:

- `ingest`: `sync/enrollment/updates` with --batch new beneficiaries (each item must succeed);
- `enrolled`: `sync/enrolled` for an identifier ingested earlier or one never ingested;
- `search`: `sync/search` by ID, likewise;
- `async_search`: `search` with the receiver as `sender_uri` (ACK, then the callback must
  arrive: at the end the run waits up to --wait seconds for the missing ones).

Envelopes are signed before each request's clock starts. Every --sample seconds it reads VmRSS
from /proc of the server process and all its descendants (uvicorn workers, the outbox process).

Prints one JSON object: requests per kind, errors (count and the first few reasons), p50/p99
per kind, callback delivery p50/p99, the server's RSS at start (once it answers /health),
after the first minute, at the end, and growth in percent. The baseline, measured in the same
run: each kind's p50 over the first minute against its p50 over the last minute
(`last_to_first_p50`; 1.0 = no slowdown as the registry and its audit log grow).

    .venv/bin/python benchmarks/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _pg import fresh_database
from _served_ibr import (
    CallbackReceiver,
    bearer_token,
    drop_database,
    free_port,
    register_spmis,
    running,
    serve_command,
    serve_env,
)

from ibr_protocol import build_request, sign_envelope
from ibr_service.api.loopback import serve_in_thread
from ibr_service.cli.spmis import enrolled_message, enrollment_message, search_message
from ibr_service.core.samples import person_beneficiary

KINDS = ("ingest", "enrolled", "search", "async_search")
PATHS = {
    "ingest": "/registry/sync/enrollment/updates",
    "enrolled": "/registry/sync/enrolled",
    "search": "/registry/sync/search",
    "async_search": "/registry/search",
}
ACTIONS = {"ingest": "notify", "enrolled": "search", "search": "search", "async_search": "search"}
GOALS = {"errors": 0, "rss_growth_percent_below": 10}
TOKEN_REFRESH_SECONDS = 300
TRACEMALLOC_BOOT = """
import os, signal, tracemalloc
def _on_usr1(*_):  # the first signal starts tracing (imports and startup are slow traced)
    if not tracemalloc.is_tracing():
        tracemalloc.start(25)
        return
    n = len([f for f in os.listdir(os.environ["SOAK_SNAPSHOTS"]) if f.endswith(".snap")])
    tracemalloc.take_snapshot().dump(os.path.join(os.environ["SOAK_SNAPSHOTS"], f"{n}.snap"))
signal.signal(signal.SIGUSR1, _on_usr1)
from ibr_service.cli import app
app()
"""
MAX_REASONS = 5


def process_tree_rss_kb(root: int) -> int:
    """VmRSS (kB) of `root` and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


@dataclass
class Tally:
    """Latencies (ms, with the second of the run each was sent at) and errors of one kind."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    errors: int = 0

    def cut(self, since: float = 0.0, until: float = float("inf")) -> dict[str, float | None]:
        values = [ms for at, ms in self.samples if since <= at < until]
        if len(values) < 2:
            return {"p50_ms": None, "p99_ms": None}
        points = statistics.quantiles(values, n=100)
        return {"p50_ms": round(points[49], 2), "p99_ms": round(points[98], 2)}


class Soak:
    def __init__(self, args: argparse.Namespace, base: str, callback_uri: str) -> None:
        self.args = args
        self.base = base
        self.callback_uri = callback_uri
        self.http = httpx.Client(timeout=60.0)
        self.tallies = {kind: Tally() for kind in KINDS}
        self.reasons: list[str] = []
        self.ingested: list[str] = []
        self.next_id = 0
        self.sent_async: dict[str, float] = {}
        self.counter = 0

    def error(self, kind: str, reason: str) -> None:
        self.tallies[kind].errors += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(f"{kind}: {reason[:300]}")

    def identifier(self) -> str:
        """An ingested identifier or (every third call) one nobody ingested."""
        self.counter += 1
        if self.counter % 3 == 0 or not self.ingested:
            return f"U{uuid.uuid4().hex[:12]}"
        return self.ingested[(self.counter * 7919) % len(self.ingested)]

    def message(self, kind: str) -> tuple[dict[str, Any], list[str]]:
        if kind == "ingest":
            ids = [f"S{os.getpid()}-{self.next_id + i:08d}" for i in range(self.args.batch)]
            self.next_id += self.args.batch
            return enrollment_message([person_beneficiary(nid) for nid in ids]), ids
        if kind == "enrolled":
            return enrolled_message(self.identifier()), []
        return search_message("NID", self.identifier()), []

    def send(self, kind: str, token: str, key: dict[str, Any], sender_id: str, at: float) -> None:
        message, new_ids = self.message(kind)
        envelope = build_request(
            action=ACTIONS[kind],
            message=message,
            sender_id=sender_id,
            receiver_id="IBR",
            sender_uri=self.callback_uri if kind == "async_search" else None,
        )
        body = json.dumps(sign_envelope(envelope, key)).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            reply = self.http.post(f"{self.base}{PATHS[kind]}", content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.error(kind, f"{type(exc).__name__}: {exc}")
            return
        self.tallies[kind].samples.append((at, (time.perf_counter() - started) * 1000))
        if reply.status_code != 200:
            self.error(kind, f"HTTP {reply.status_code}: {reply.text}")
            return
        answer = reply.json().get("message", {})
        if kind == "ingest":
            items = answer.get("enrolled_response", [])
            bad = [item for item in items if item.get("status") != "succ"]
            if bad or len(items) != len(new_ids):
                self.error(kind, f"{len(bad)} of {len(items)} items refused: {bad[:1]}")
                return
            self.ingested.extend(new_ids)
        elif kind == "async_search":
            if answer.get("ack_status") != "ACK":
                self.error(kind, f"not ACKed: {reply.text}")
                return
            self.sent_async[str(answer["correlation_id"])] = started
        elif kind == "search":
            bad = [i for i in answer.get("search_response", []) if i.get("status") != "succ"]
            if bad or not answer.get("search_response"):
                self.error(kind, f"search item not succ: {reply.text}")
        else:
            header = reply.json().get("header", {})
            if header.get("status") not in (None, "succ"):
                self.error(kind, f"header status {header.get('status')}: {reply.text}")


def command_args(port: int) -> list[str]:
    """The `ibr serve` arguments of `serve_command` (what follows its interpreter and -c)."""
    return serve_command(port, 1)[3:]


def traced_growth(snapshots: Path, top: int = 12) -> dict[str, Any]:
    """What the server allocated between its two snapshots (SIGUSR1), largest growth first."""
    deadline = time.monotonic() + 60
    while len(list(snapshots.glob("*.snap"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    files = sorted(snapshots.glob("*.snap"), key=lambda f: int(f.stem))
    if len(files) < 2:
        return {"error": f"{len(files)} snapshot(s) written in {snapshots}"}
    first, last = (tracemalloc.Snapshot.load(str(f)) for f in files[:2])
    stats = last.compare_to(first, "traceback")
    total = sum(stat.size_diff for stat in stats)
    return {
        "traced_kb_first": round(sum(s.size for s in first.statistics("filename")) / 1024),
        "traced_kb_last": round(sum(s.size for s in last.statistics("filename")) / 1024),
        "net_growth_kb": round(total / 1024),
        "top": [
            {
                "kb": round(stat.size_diff / 1024),
                "blocks": stat.count_diff,
                "where": [f"{frame.filename}:{frame.lineno}" for frame in stat.traceback][-6:],
            }
            for stat in stats[:top]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="most requests per second")
    parser.add_argument("--batch", type=int, default=20, help="beneficiaries per ingest request")
    parser.add_argument("--workers", type=int, default=1, help="ibr serve --workers")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS reads")
    parser.add_argument("--wait", type=float, default=60.0, help="most seconds for callbacks")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the server's allocations (--workers 1) and print what grew after the "
        "first window (slower: figures are not comparable with a plain run)",
    )
    args = parser.parse_args()
    if args.minutes <= 0 or args.rate <= 0 or args.batch < 1:
        sys.exit("--minutes and --rate must be positive and --batch at least 1")
    if args.tracemalloc and args.workers != 1:
        sys.exit("--tracemalloc traces one server process: use it with --workers 1")

    database = f"ibr_soak_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = fresh_database(database)
    receiver = CallbackReceiver()
    duration = args.minutes * 60
    window = min(60.0, duration / 3)
    rss: list[tuple[float, int]] = []
    snapshots = Path(tempfile.mkdtemp(prefix="soak-snapshots-"))
    try:
        with serve_in_thread(receiver) as receiver_url:
            spmis = register_spmis(
                url, sender_id="SP-Soak", callback_targets=[receiver_url.removeprefix("http://")]
            )
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command = serve_command(port, args.workers)
            env = serve_env(url)
            if args.tracemalloc:
                command = [sys.executable, "-c", TRACEMALLOC_BOOT]
                command += command_args(port)
                env["SOAK_SNAPSHOTS"] = str(snapshots)
            with running(command, env, f"{base}/health", f"soak-{database}") as server:
                soak = Soak(args, base, f"{receiver_url}/registry/on-search")
                token, token_at = bearer_token(base, spmis), time.monotonic()
                rss.append((0.0, process_tree_rss_kb(server.pid)))
                if args.tracemalloc:
                    server.send_signal(signal.SIGUSR1)  # start tracing
                start = time.monotonic()
                next_sample = args.sample
                traced_first = False
                sent = 0
                while (at := time.monotonic() - start) < duration:
                    if time.monotonic() - token_at > TOKEN_REFRESH_SECONDS:
                        token, token_at = bearer_token(base, spmis), time.monotonic()
                    kind = KINDS[sent % len(KINDS)]
                    soak.send(kind, token, spmis.private_jwk, spmis.sender_id, at)
                    sent += 1
                    if at >= next_sample:
                        rss.append((at, process_tree_rss_kb(server.pid)))
                        next_sample += args.sample
                    if args.tracemalloc and not traced_first and at >= window:
                        server.send_signal(signal.SIGUSR1)
                        traced_first = True
                    pause = start + sent / args.rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                rss.append((time.monotonic() - start, process_tree_rss_kb(server.pid)))
                if args.tracemalloc:
                    server.send_signal(signal.SIGUSR1)
                expected = set(soak.sent_async)
                deadline = time.monotonic() + args.wait
                while receiver.received(expected) < len(expected) and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.0)  # late duplicates
                if args.tracemalloc:
                    growth = traced_growth(snapshots)
                elapsed = time.monotonic() - start
                soak.http.close()
    finally:
        drop_database(database)
        shutil.rmtree(snapshots, ignore_errors=True)

    delivery: list[float] = []
    for cid, sent_at in soak.sent_async.items():
        arrivals = receiver.arrivals.get(cid)
        if not arrivals:
            soak.error("async_search", f"no callback for correlation id {cid}")
            continue
        delivery.append((arrivals[0][0] - sent_at) * 1000)
        if len(arrivals) > 1:
            soak.error("async_search", f"{len(arrivals)} callbacks for correlation id {cid}")
        if any(status != "succ" for status in arrivals[0][1]) or not arrivals[0][1]:
            soak.error("async_search", f"callback items not succ: {arrivals[0][1]}")
    if receiver.unreadable:
        soak.error("async_search", f"{receiver.unreadable} unreadable callbacks")

    per_kind: dict[str, Any] = {}
    for kind, tally in soak.tallies.items():
        first = tally.cut(until=window)
        last = tally.cut(since=duration - window)
        ratio = (
            round(last["p50_ms"] / first["p50_ms"], 2)
            if first["p50_ms"] and last["p50_ms"]
            else None
        )
        per_kind[kind] = {
            "requests": len(tally.samples),
            "errors": tally.errors,
            **tally.cut(),
            "first_window_p50_ms": first["p50_ms"],
            "last_window_p50_ms": last["p50_ms"],
            "last_to_first_p50": ratio,
        }
    after_warmup = next((kb for at, kb in rss if at >= window), rss[-1][1])
    start_kb, end_kb = rss[0][1], rss[-1][1]
    delivery_cut = Tally([(0.0, ms) for ms in delivery]).cut()
    errors = sum(tally.errors for tally in soak.tallies.values())
    print(
        json.dumps(
            {
                "benchmark": "soak",
                "backend": "postgresql",
                "cores": os.cpu_count(),
                "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
                "workers": args.workers,
                "minutes": args.minutes,
                "seconds_with_callback_wait": round(elapsed, 1),
                "rate_limit_per_s": args.rate,
                "achieved_requests_per_s": round(
                    sum(len(t.samples) for t in soak.tallies.values()) / duration, 1
                ),
                "ingest_batch": args.batch,
                "beneficiaries_ingested": len(soak.ingested),
                "baseline_window_seconds": window,
                "kinds": per_kind,
                "callback_delivery": {**delivery_cut, "delivered": len(delivery)},
                "errors": errors,
                "first_errors": soak.reasons,
                "server_rss_kb": {
                    "start": start_kb,
                    "after_first_window": after_warmup,
                    "end": end_kb,
                    "max": max(kb for _, kb in rss),
                    "growth_percent": round((end_kb - start_kb) / start_kb * 100, 1),
                    "growth_after_first_window_percent": round(
                        (end_kb - after_warmup) / after_warmup * 100, 1
                    ),
                    "samples": len(rss),
                    "per_minute": [kb for at, kb in rss if int(at) % 60 < args.sample],
                },
                **({"tracemalloc_growth_after_first_window": growth} if args.tracemalloc else {}),
                "goals": GOALS,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
