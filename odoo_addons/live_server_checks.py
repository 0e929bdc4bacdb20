"""The Odoo-hosted IBR as a real server: the conformance suite's whole IBR profile, and the queue.

Run by `odoo_addons/run-tests` with Odoo's Python after the add-on's unit tests, on a database
where the module is installed. Odoo's test runner holds one test cursor and no cron worker, so
what needs the outbox cron running while a client waits is checked here against `odoo-bin` as
deployed (threaded server, cron workers on):

1. the conformance suite's IBR profile, every phase and capability (`ibr-conformance run`),
   with clients registered by `ibr clients add` on Odoo's database; it fails when a check fails
   or errors, or when a MUST is left untested;
2. the queue survives a restart: an async search whose callback target is down is accepted,
   Odoo is stopped, the SP-MIS receiver and Odoo are started again, and the callback arrives.

Loopback only; every wait is bounded; the servers it starts are stopped by their pid.
Exit 0 when both pass, 1 when one fails, 2 when the harness itself could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from ibr_protocol import generate_signing_key, public_jwk, sign_envelope
from ibr_protocol.clock import utc_now
from ibr_protocol.envelope import build_request

CALLBACK_CLIENT_ID = "IBR"  # the IBR's id at the suite's callback token endpoint
CALLBACK_CLIENT_SECRET = "ibr-at-suite-receiver-secret"  # noqa: S105 - a loopback test secret
_SECRET = re.compile(r"client_secret:\s*(\S+)")
_ERROR = re.compile(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ")
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Odoo:
    """How to start `odoo-bin` on the test database."""

    home: Path
    addons: str
    db: str
    db_user: str
    db_host: str
    workdir: Path
    port: int = field(default_factory=free_port)
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def database_url(self) -> str:
        """The core's tables in Odoo's database (schema ibr), for the `ibr` command line."""
        return (
            f"postgresql+psycopg://{self.db_user}@{self.db_host}:5432/{self.db}"
            "?options=-csearch_path%3Dibr"
        )

    @contextmanager
    def running(self) -> Iterator[None]:
        """`odoo-bin` as deployed (threaded, two cron workers) until the block ends."""
        self.starts += 1
        log_path = self.workdir / f"odoo-server-{self.starts}.log"
        command = [
            sys.executable,
            str(self.home / "odoo-bin"),
            f"--addons-path={self.addons}",
            "-r",
            self.db_user,
            f"--db_host={self.db_host}",
            "-d",
            self.db,
            f"--db-filter=^{re.escape(self.db)}$",
            "--http-interface=127.0.0.1",
            f"--http-port={self.port}",
            "--max-cron-threads=2",
            "--workers=0",
            "--log-level=info",
        ]
        with log_path.open("w") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            try:
                self._wait_ready(proc, log_path)
                yield
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)

    def _wait_ready(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise HarnessError(f"odoo-bin exited ({proc.returncode}); see {log_path}")
            try:
                if httpx.get(f"{self.url}/ibr/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise HarnessError(f"odoo-bin did not answer /ibr/health in 180 s; see {log_path}")


class HarnessError(Exception):
    """The checks could not run (not a failure of the system under test)."""


def add_client(odoo: Odoo, sender_id: str, *args: str) -> str:
    """`ibr clients add` on Odoo's database, as the add-on's documentation says; the secret."""
    env = {**os.environ, "IBR_DATABASE_URL": odoo.database_url(), "COLUMNS": "250"}
    done = subprocess.run(  # noqa: S603
        [str(BIN / "ibr"), "clients", "add", sender_id, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = _SECRET.search(done.stdout)
    if done.returncode != 0 or not match:
        raise HarnessError(f"`ibr clients add {sender_id}` failed: {done.stdout}{done.stderr}")
    return match.group(1)


# --- 1. the conformance suite's whole IBR profile -------------------------------------------


def conformance(odoo: Odoo, out: Path) -> list[str]:
    """Run `ibr-conformance run` (every phase); the problems found (empty when it passed)."""
    key = generate_signing_key("conf-odoo-live-1")
    (odoo.workdir / "suite.jwk.json").write_text(json.dumps(key))
    public = odoo.workdir / "suite.pub.jwk.json"
    public.write_text(json.dumps(public_jwk(key)))
    callback_port = free_port()
    loopback = (
        "--callback-host",
        f"127.0.0.1:{callback_port}",
        "--allow-private-callbacks",
        "--callback-token-url",
        f"http://127.0.0.1:{callback_port}/oauth2/client/token",
        "--callback-client-id",
        CALLBACK_CLIENT_ID,
        "--callback-client-secret",
        CALLBACK_CLIENT_SECRET,
    )
    with_key = ("--public-key", str(public))
    secrets = {
        "conf-main": add_client(
            odoo, "conf-main", *with_key, *loopback, "--programme", "CONF-PROG"
        ),
        "conf-second": add_client(
            odoo, "conf-second", *with_key, *loopback, "--programme", "OTHER-PROG"
        ),
        "conf-limited": add_client(odoo, "conf-limited", *with_key, "--scope", "registry.enrolled"),
        "conf-sig-optional": add_client(
            odoo,
            "conf-sig-optional",
            *with_key,
            "--signature",
            "optional",
            "--programme",
            "CONF-PROG",
        ),
    }
    from ibr_conformance.config import RunConfig

    settings = {
        "base_url": odoo.url,
        "base_path": "/ibr",
        "client_id": "conf-main",
        "client_secret": secrets["conf-main"],
        "second_client_id": "conf-second",
        "second_client_secret": secrets["conf-second"],
        "limited_client_id": "conf-limited",
        "limited_client_secret": secrets["conf-limited"],
        "optional_signature_client_id": "conf-sig-optional",
        "optional_signature_client_secret": secrets["conf-sig-optional"],
        "signing_key": str(odoo.workdir / "suite.jwk.json"),
        "foreign_programme": "OTHER-PROG",
        "second_programme": "OTHER-PROG",
        "capabilities": [*RunConfig.model_fields["capabilities"].default, "programme-isolation"],
        "callback_port": callback_port,
        "callback_client_id": CALLBACK_CLIENT_ID,
        "callback_client_secret": CALLBACK_CLIENT_SECRET,
        "callback_timeout": 30.0,
        "output_dir": str(out),
    }
    config = odoo.workdir / "conformance.yaml"
    config.write_text(yaml.safe_dump(settings))
    console = odoo.workdir / "conformance-console.txt"
    with console.open("w") as log:
        done = subprocess.run(  # noqa: S603
            [str(BIN / "ibr-conformance"), "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=1500,
            check=False,
        )
    report = out / "report.json"
    if done.returncode not in (0, 1) or not report.exists():
        raise HarnessError(f"ibr-conformance run exited {done.returncode}; see {console}")
    doc = json.loads(report.read_text())
    print(f"  conformance checks: {doc['summary']}")
    problems = [
        f"{c['check']}: {c['outcome']} {_why(c)}"
        for c in doc["checks"]
        if c["outcome"] in ("fail", "error")
    ]
    scope = doc["completeness"]
    if scope["untested_musts"]:
        problems.append(f"MUSTs left untested: {', '.join(scope['untested_musts'])}")
    if scope["phases_left_out"]:
        problems.append(f"phases not run: {', '.join(scope['phases_left_out'])}")
    if not problems:
        print("  conformance: CONFORMANT, every MUST of the IBR profile tested")
    return problems


def _why(check: dict[str, Any]) -> str:
    failures = check.get("failures") or []
    if failures:
        return "; ".join(f"{f['title']}: {f['message'][:200]}" for f in failures[:2])
    return str(check.get("reason", ""))[:300]


# --- 2. the queue: a callback delivered after a restart --------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def callback_after_restart(odoo: Odoo, wait_seconds: float) -> list[str]:
    """Queue an async search whose callback target is down, restart Odoo, see it delivered."""
    sender = "restart-sp"
    key = generate_signing_key("restart-sp-1")
    public = odoo.workdir / "restart.pub.jwk.json"
    public.write_text(json.dumps(public_jwk(key)))
    receiver_port = free_port()
    secret = add_client(
        odoo,
        sender,
        "--public-key",
        str(public),
        "--callback-host",
        f"127.0.0.1:{receiver_port}",
        "--allow-private-callbacks",
    )
    transaction_id = f"T-restart-{int(time.time())}"
    with odoo.running():
        token = httpx.post(
            f"{odoo.url}/ibr/oauth2/client/token",
            data={"grant_type": "client_credentials", "client_id": sender, "client_secret": secret},
            timeout=30,
        )
        token.raise_for_status()
        message = {
            "transaction_id": transaction_id,
            "search_request": [
                {
                    "reference_id": "R-restart-1",
                    "timestamp": "2024-05-02T10:00:00Z",
                    "search_criteria": {
                        "query_type": "idtype-value",
                        "query": {"type": "NID", "value": "7101"},
                    },
                }
            ],
        }
        envelope = build_request(
            action="search",
            message=message,
            sender_id=sender,
            receiver_id="IBR",
            now=utc_now(),
            sender_uri=f"http://127.0.0.1:{receiver_port}/callback/on-search",
        )
        ack = httpx.post(
            f"{odoo.url}/ibr/registry/search",
            json=sign_envelope(envelope, key),
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=30,
        )
        if ack.status_code != 200 or ack.json()["message"]["ack_status"] != "ACK":
            return [f"async search not accepted: {ack.status_code} {ack.text[:300]}"]
        # The cron is woken by the acceptance and tries the (closed) receiver port.
        attempted = _wait_for(lambda: _attempts(odoo, transaction_id) > 0, 60)
        if not attempted:
            return ["the outbox cron did not try the callback within 60 s of the acceptance"]
    print("  queue: callback attempted while the SP-MIS was down; Odoo stopped")
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", receiver_port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with odoo.running():
            started = time.monotonic()
            arrived = _wait_for(lambda: _callback_for(transaction_id) is not None, wait_seconds)
            took = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    if not arrived:
        return [f"no on-search callback within {wait_seconds:.0f} s of the restart"]
    body = _callback_for(transaction_id) or {}
    if body.get("header", {}).get("action") != "on-search" or "signature" not in body:
        return [f"the callback after the restart is not a signed on-search: {str(body)[:300]}"]
    print(f"  queue: on-search delivered {took:.0f} s after the restart (signed)")
    return []


def _attempts(odoo: Odoo, transaction_id: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(odoo.database_url())
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT coalesce(max(o.attempts), 0) FROM outbox o JOIN transactions t"
                        " ON t.correlation_id = o.correlation_id"
                        " WHERE t.transaction_id = :tid"
                    ),
                    {"tid": transaction_id},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _callback_for(transaction_id: str) -> dict[str, Any] | None:
    for body in list(_Receiver.received):
        if body.get("message", {}).get("transaction_id") == transaction_id:
            return body
    return None


def _wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odoo-home", type=Path, required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--db-user", default="odoo")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--only", choices=("conformance", "restart"), default=None)
    parser.add_argument(
        "--restart-wait", type=float, default=150.0, help="seconds to wait after the restart"
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    odoo = Odoo(
        home=args.odoo_home,
        addons=args.addons_path,
        db=args.db,
        db_user=args.db_user,
        db_host=args.db_host,
        workdir=args.workdir,
    )
    problems: list[str] = []
    try:
        if args.only in (None, "conformance"):
            print("Odoo live server: the conformance suite's IBR profile (every phase) ...")
            with odoo.running():
                problems += conformance(odoo, args.workdir / "conformance-report")
        if args.only in (None, "restart"):
            print("Odoo live server: a callback queued before a restart ...")
            problems += callback_after_restart(odoo, args.restart_wait)
    except HarnessError as exc:
        print(f"Odoo live server checks could not run: {exc}")
        return 2
    for log in sorted(args.workdir.glob("odoo-server-*.log")):
        errors = [line for line in log.read_text().splitlines() if _ERROR.search(line)]
        problems += [f"{log.name}: {line[:300]}" for line in errors[:5]]
    for problem in problems:
        print(f"  FAILED {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
