"""Enrolled-check latency and throughput on PostgreSQL: IbrCore.enrolled vs the raw SQL.

Prints one JSON object with p50/p95/p99 latency (ms) and checks/s for the core call (one check
per request, as an SP-MIS sends them) and for the equivalent hand-written SQL on a raw psycopg
connection, measured in the same run, and their ratio. Single client thread on loopback.

    .venv/bin/python benchmarks/service_enrolled.py --population 20000 --checks 3000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))

from _pg import scratch_database

from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.samples import enrollment_message, person_beneficiary
from ibr_service.store_sql import SqlStore

RAW_SQL = """
SELECT EXISTS (
  SELECT 1 FROM identifiers i JOIN enrolments e ON e.subject_key = i.subject_key
  WHERE i.identifier_type = %s AND i.identifier_value = %s
    AND e.programme_identifier = %s AND e.enrolment_status = ANY(%s)
)
"""


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {
        "p50_ms": round(cuts[49], 3),
        "p95_ms": round(cuts[94], 3),
        "p99_ms": round(cuts[98], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--checks", type=int, default=3_000)
    args = parser.parse_args()
    with scratch_database("ibr_perf_enrolled") as url:
        run(args, url)


def run(args: argparse.Namespace, url: str) -> None:
    admin_url = url.replace("postgresql+psycopg://", "postgresql://")
    store = SqlStore.from_url(url, pool_size=2)
    core = IbrCore(store, settings=CoreSettings())
    caller = Caller(sender_id="SP-Bench")
    people = [person_beneficiary(f"{i:09d}") for i in range(args.population)]
    for i in range(0, len(people), 5000):
        core.enrollment_updates(enrollment_message(people[i : i + 5000]), caller=caller)

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live registry

    rng = random.Random(7)
    # Half the checks ask about enrolled people, half about unknown ones.
    ids = [f"{rng.randrange(args.population * 2):09d}" for _ in range(args.checks)]

    core_latencies: list[float] = []
    yes = 0
    started = time.perf_counter()
    for nid in ids:
        message = {
            "transaction_id": "T",
            "enrolled_criteria": {
                "query_type": "expression",
                "response_entity": "Member",
                "query": {
                    "identifier_value": {"eq": nid},
                    "programme_identifier": {"eq": "DCI001"},
                },
            },
        }
        t0 = time.perf_counter()
        answer = core.enrolled(message, caller=caller)
        core_latencies.append((time.perf_counter() - t0) * 1000)
        yes += answer["enrolled_response"][0]["enrolled_status"] == "yes"
    core_seconds = time.perf_counter() - started

    raw_latencies: list[float] = []
    raw_yes = 0
    with psycopg.connect(admin_url) as conn:
        started = time.perf_counter()
        for nid in ids:
            t0 = time.perf_counter()
            row = conn.execute(RAW_SQL, ("NID", nid, "DCI001", ["1", "4"])).fetchone()
            conn.commit()
            raw_latencies.append((time.perf_counter() - t0) * 1000)
            raw_yes += bool(row and row[0])
        raw_seconds = time.perf_counter() - started

    core_rate, raw_rate = args.checks / core_seconds, args.checks / raw_seconds
    print(
        json.dumps(
            {
                "benchmark": "service_enrolled",
                "backend": "postgresql",
                "population": args.population,
                "checks": args.checks,
                "answers_agree": yes == raw_yes,
                "core": {**percentiles(core_latencies), "checks_per_s": round(core_rate)},
                "raw_sql": {**percentiles(raw_latencies), "checks_per_s": round(raw_rate)},
                "core_vs_raw_throughput": round(core_rate / raw_rate, 3),
                "note": "core includes the audit append of each read (one write per check)",
                "goals": {"p99_ms": 15, "checks_per_s": 5000},
            },
            indent=2,
        )
    )
    store.engine.dispose()


if __name__ == "__main__":
    main()
