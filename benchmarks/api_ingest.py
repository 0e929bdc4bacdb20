"""API ingest throughput: signed sync/enrollment/updates batches over real HTTP, on PostgreSQL.

Starts the IBR (uvicorn, in this process, on a free loopback port) over a fresh PostgreSQL
database, registers an SP-MIS and POSTs `ibr_mock_data` beneficiaries (canonical, as the mock
generator writes them) in signed batches of --batch (spec maximum 1000). Prints one JSON object:

- api_records_per_s, api_mb_per_s: end to end over HTTP (client signing excluded: envelopes are
  signed and serialised before timing; MB are the records' JSON bytes);
- api_cpu_ms_per_record: CPU time of this process (the server; the client only POSTs ready
  bytes) per record during the API run: PostgreSQL's own CPU is not in it, and it moves far
  less than the wall figures when other work shares the cores;
- raw_copy_*: the baseline the issue names, in the same run: the registry rows the API run
  stored (the same normalised rows, read back from its tables) written again by a plain
  `COPY ... FROM STDIN` per table into a second fresh, migrated database (indexes and
  constraints as in production), one transaction; `ratio_to_copy` is API seconds over COPY
  seconds for the same records (1.0 would be ingest as fast as loading its rows);
- core_records_per_s: the same records through IbrCore.enrollment_updates directly, into a
  third fresh database (what HTTP, parsing, the signature and the signed response add on top:
  `api_vs_core`); --skip-core leaves it out.

The machine's core count, the load average and the issue's goals are printed beside the
figures; nothing is asserted. Each database is named `<--db-prefix>_<role>` and dropped at the
end.

    .venv/bin/python benchmarks/api_ingest.py --records 5000 --batch 1000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))

from _pg import ADMIN, fresh_database

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.generate import generate
from ibr_service.cli.sandbox import sandbox
from ibr_service.cli.spmis import enrollment_message
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.settings import Settings
from ibr_service.store_sql import SqlStore
from ibr_service.store_sql.rows import RegistryRows

GOALS = {"api_records_per_s": 10_000, "api_mb_per_s": 50, "ratio_to_copy": 0.25}
REGISTRY_TABLES = [name for name, _ in RegistryRows().by_table()]


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


def api_run(records: list[dict[str, Any]], batch: int, database: str) -> tuple[float, float, int]:
    """Seconds to POST every batch, CPU seconds of this process meanwhile (the server's work,
    the client's is a few POSTs of ready bytes), and how many items came back `succ`."""
    settings = Settings(
        database_url=fresh_database(database),
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
        cpu_started = time.process_time()
        started = time.perf_counter()
        for body in bodies:
            reply = spmis.http.post(url, content=body, headers=headers)
            reply.raise_for_status()
            items = reply.json()["message"]["enrolled_response"]
            accepted += sum(1 for item in items if item["status"] == "succ")
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        spmis.http.close()
    return seconds, cpu_seconds, accepted


def _dsn(database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{database}"


def stored_rows(database: str) -> dict[str, tuple[int, bytes]]:
    """Each registry table's rows as `COPY ... TO STDOUT` text: (row count, bytes)."""
    dumps: dict[str, tuple[int, bytes]] = {}
    with psycopg.connect(_dsn(database)) as conn, conn.cursor() as cursor:
        for table in REGISTRY_TABLES:
            buffer = io.BytesIO()
            with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                for chunk in copy:
                    buffer.write(chunk)
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (our table names)
            count = cursor.fetchone()
            dumps[table] = (int(count[0]) if count else 0, buffer.getvalue())
    return dumps


def raw_copy_run(dumps: dict[str, tuple[int, bytes]], database: str) -> float:
    """Seconds for a plain COPY of the same rows into a fresh migrated database, committed."""
    fresh_database(database)
    with psycopg.connect(_dsn(database)) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for table, (_, data) in dumps.items():
                if data:
                    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                        copy.write(data)
        conn.commit()
        return time.perf_counter() - started


def core_run(records: list[dict[str, Any]], batch: int, database: str) -> float:
    store = SqlStore.from_url(fresh_database(database), bulk_threshold=2000)
    core = IbrCore(store, settings=CoreSettings())
    caller = Caller(sender_id="SP-Bench")
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        core.enrollment_updates(enrollment_message(records[i : i + batch]), caller=caller)
    seconds = time.perf_counter() - started
    store.engine.dispose()
    return seconds


def drop(databases: list[str]) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        for name in databases:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--db-prefix", default=f"ibr_api_ingest_{os.getpid()}")
    parser.add_argument("--skip-core", action="store_true", help="leave out the core-only run")
    args = parser.parse_args()

    names = {role: f"{args.db_prefix}_{role}" for role in ("api", "copy", "core")}
    records = mock_records(args.records)
    record_bytes = sum(len(json.dumps(r).encode()) for r in records)
    try:
        api_seconds, api_cpu_seconds, accepted = api_run(records, args.batch, names["api"])
        dumps = stored_rows(names["api"])
        copy_seconds = raw_copy_run(dumps, names["copy"])
        core_seconds = None if args.skip_core else core_run(records, args.batch, names["core"])
    finally:
        drop(list(names.values()))
    rows = sum(count for count, _ in dumps.values())
    copy_bytes = sum(len(data) for _, data in dumps.values())
    figures: dict[str, Any] = {
        "benchmark": "api_ingest",
        "backend": "postgresql",
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "records": len(records),
        "accepted": accepted,
        "batch": args.batch,
        "mean_record_bytes": round(record_bytes / len(records)),
        "api_seconds": round(api_seconds, 3),
        "api_records_per_s": round(len(records) / api_seconds),
        "api_mb_per_s": round(record_bytes / api_seconds / 1e6, 2),
        "api_cpu_ms_per_record": round(api_cpu_seconds / len(records) * 1000, 3),
        "raw_copy_rows": rows,
        "raw_copy_rows_by_table": {t: c for t, (c, _) in dumps.items() if c},
        "raw_copy_seconds": round(copy_seconds, 3),
        "raw_copy_rows_per_s": round(rows / copy_seconds),
        "raw_copy_records_per_s": round(len(records) / copy_seconds),
        "raw_copy_mb_per_s": round(copy_bytes / copy_seconds / 1e6, 2),
        "ratio_to_copy": round(copy_seconds / api_seconds, 3),
    }
    if core_seconds is not None:
        figures["core_records_per_s"] = round(len(records) / core_seconds)
        figures["api_vs_core"] = round(core_seconds / api_seconds, 3)
    figures["goals"] = GOALS
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
