"""API ingest throughput: signed sync/enrollment/updates batches over real HTTP, on PostgreSQL.

Starts the IBR (uvicorn, in this process, on a free loopback port) over a fresh PostgreSQL
database, registers an SP-MIS and POSTs `ibr_mock_data` beneficiaries (canonical, as the mock
generator writes them) in signed batches of --batch (spec maximum 1000). Prints one JSON object:

- api_records_per_s: end to end (client signing excluded: envelopes are signed before timing);
- core_records_per_s: the same records through IbrCore.enrollment_updates directly, into a
  second fresh database, measured in the same run (the baseline: what HTTP, parsing,
  normalisation, signature checks and the signed response add on top);
- api_vs_core: the ratio of the two.

    .venv/bin/python benchmarks/service_api_ingest.py --records 20000 --batch 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _pg import fresh_database

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.generate import generate
from ibr_service.cli.sandbox import sandbox
from ibr_service.cli.spmis import enrollment_message
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.settings import Settings
from ibr_service.store_sql import SqlStore

DATABASE = "ibr_test_perf_2"


def mock_records(count: int) -> list[dict[str, Any]]:
    """`count` canonical Beneficiary records from the mock generator."""
    people = max(4 * count, 1000)
    config = GeneratorConfig(people=people, block_people=min(people, 20_000))
    records: list[dict[str, Any]] = []
    for block in generate(config):
        records.extend(block.beneficiaries(config))
        if len(records) >= count:
            break
    return records[:count]


def api_run(records: list[dict[str, Any]], batch: int) -> tuple[float, int]:
    settings = Settings(
        database_url=fresh_database(DATABASE),
        max_body_bytes=64 * 1024 * 1024,
        run_outbox=False,
    )
    with sandbox(settings) as box:
        spmis = box.spmis
        spmis.http = httpx.Client(timeout=600.0)
        spmis.token()
        bodies = [
            json.dumps(
                spmis.envelope("notify", enrollment_message(records[i : i + batch]))
            ).encode()
            for i in range(0, len(records), batch)
        ]
        headers = {"Authorization": f"Bearer {spmis.token()}", "Content-Type": "application/json"}
        url = f"{spmis.base_url}/registry/sync/enrollment/updates"
        accepted = 0
        started = time.perf_counter()
        for body in bodies:
            reply = spmis.http.post(url, content=body, headers=headers)
            reply.raise_for_status()
            items = reply.json()["message"]["enrolled_response"]
            accepted += sum(1 for item in items if item["status"] == "succ")
        seconds = time.perf_counter() - started
        spmis.http.close()
    return seconds, accepted


def core_run(records: list[dict[str, Any]], batch: int) -> float:
    store = SqlStore.from_url(fresh_database(DATABASE), bulk_threshold=2000)
    core = IbrCore(store, settings=CoreSettings())
    caller = Caller(sender_id="SP-Bench")
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        core.enrollment_updates(enrollment_message(records[i : i + batch]), caller=caller)
    seconds = time.perf_counter() - started
    store.engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    records = mock_records(args.records)
    size = sum(len(json.dumps(r)) for r in records) / len(records)
    api_seconds, accepted = api_run(records, args.batch)
    core_seconds = core_run(records, args.batch)
    print(
        json.dumps(
            {
                "benchmark": "service_api_ingest",
                "backend": "postgresql",
                "records": len(records),
                "accepted": accepted,
                "batch": args.batch,
                "mean_record_bytes": round(size),
                "api_records_per_s": round(len(records) / api_seconds),
                "api_mb_per_s": round(len(records) * size / api_seconds / 1e6, 2),
                "core_records_per_s": round(len(records) / core_seconds),
                "api_vs_core": round(core_seconds / api_seconds, 3),
                "goals": {"api_ingest_records_per_s": 50_000},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
