"""Server time to refuse hostile requests, against an ordinary request in the same run.

Runs the IBR's inbound pipeline (``ibr_service.security.inbound.accept_body``, what every host
calls) in-process on a migrated SQLite file with a registered client, a real token and a real
Ed25519 signature, and prints one JSON object: CPU and wall milliseconds to refuse a signed
`sync/enrolled` of 90,000 criteria (about 9 MB), a 5,000-digit integer and a NUL in a name,
and to accept an ordinary one-criterion request (the baseline), with each ratio to the baseline.

    .venv/bin/python benchmarks/hostile_requests.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ibr_protocol import IbrProtocolError, generate_signing_key, public_jwk
from ibr_service.api import build_host
from ibr_service.cli.sandbox import migrate
from ibr_service.cli.spmis import ScriptedSpMis, enrolled_message
from ibr_service.security.clients import register_client
from ibr_service.security.inbound import accept_body
from ibr_service.security.operations import ENROLLED
from ibr_service.settings import Settings


def _time(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        run()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {
        "cpu_ms": round(statistics.median(cpu), 2),
        "wall_ms": round(statistics.median(wall), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--criteria", type=int, default=90_000)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="ibr-bench-"))
    settings = Settings(database_url=f"sqlite:///{folder}/ibr.db", max_body_bytes=64 * 2**20)
    migrate(settings.database_url)
    host = build_host(settings)
    key = generate_signing_key("bench#sig-1")
    register_client(
        host.store, sender_id="bench", now=datetime.now(UTC), public_keys=[public_jwk(key)]
    )
    token = host.tokens.issue(client_id="bench", scopes={ENROLLED.scope}, now=host.clock())
    spmis = ScriptedSpMis(base_url="", sender_id="bench", client_secret="", private_jwk=key)

    def body(message: dict[str, Any], edit: Callable[[str], str] = lambda t: t) -> bytes:
        return edit(json.dumps(spmis.envelope("search", message))).encode()

    def submit(raw: bytes, *, expect_refusal: bool) -> None:
        try:
            accept_body(
                raw,
                content_type="application/json",
                authorization=f"Bearer {token}",
                operation=ENROLLED,
                settings=settings,
                store=host.store,
                tokens=host.tokens,
                keys=host.keys,
                now=host.clock(),
            )
        except IbrProtocolError:
            if not expect_refusal:
                raise
            return
        if expect_refusal:
            raise SystemExit("a hostile request was accepted")

    huge = enrolled_message("X")
    criterion = huge["enrolled_criteria"]
    huge["enrolled_criteria"] = [
        dict(criterion, reference_id=f"c{i}") for i in range(args.criteria)
    ]
    huge_body = body(huge)
    cases = {
        "criteria_refused": lambda: submit(huge_body, expect_refusal=True),
        "huge_integer_refused": lambda: submit(
            body(
                enrolled_message("X"),
                lambda t: t.replace('"total_count": 1', '"total_count": ' + "9" * 5000),
            ),
            expect_refusal=True,
        ),
        "nul_refused": lambda: submit(
            body(enrolled_message("X"), lambda t: t.replace('"X"', '"A\\u0000B"')),
            expect_refusal=True,
        ),
    }
    # A fresh message (new message_id) each time: the replay guard would refuse a repeat.
    baseline = _time(lambda: submit(body(enrolled_message("X")), expect_refusal=False), args.repeat)
    figures: dict[str, Any] = {
        "criteria": args.criteria,
        "criteria_body_bytes": len(huge_body),
        "baseline_one_criterion_accepted": baseline,
    }
    for name, run in cases.items():
        measured = _time(run, args.repeat)
        measured["cpu_ratio_to_baseline"] = round(
            measured["cpu_ms"] / max(baseline["cpu_ms"], 0.01), 2
        )
        figures[name] = measured
    host.store.engine.dispose()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
