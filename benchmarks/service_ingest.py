"""Ingest throughput on PostgreSQL: through the core, and the bulk path beside raw COPY.

Prints one JSON object. Figures:
- core_records_per_s: sync/enrollment/updates through IbrCore (validation, hashing, merge,
  status history, audit), batches of --batch beneficiaries;
- bulk_rows_per_s: the store's COPY + set-wise merge for the same rows, and raw_copy_rows_per_s:
  a plain COPY of exactly those rows into the empty tables, measured in the same run;
- ratios to the raw-COPY baseline.

    .venv/bin/python benchmarks/service_ingest.py --records 20000 --batch 5000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))

from _pg import scratch_database

from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.ingest import updates_from_beneficiary
from ibr_service.core.records import RegistryWrite
from ibr_service.core.registry import apply_batch
from ibr_service.core.samples import enrollment_message, person_beneficiary
from ibr_service.store_sql import SqlStore
from ibr_service.store_sql.bulk import copy_rows, merge_with_copy
from ibr_service.store_sql.rows import RegistryRows, registry_rows


def truncate(store: SqlStore, tables: list[str]) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join([*tables, "audit_log", "transactions"])))


def decided_rows(store: SqlStore, people: list[dict], caller: Caller) -> RegistryRows:
    """The rows the core decides for `people` on an empty registry (written nowhere)."""
    now = datetime.now(UTC)
    items = [
        updates_from_beneficiary(
            b,
            caller=caller,
            now=now,
            identifier_types=CoreSettings().identifier_types,
            field=f"b[{i}]",
        )
        for i, b in enumerate(people)
    ]
    captured: list[RegistryWrite] = []
    with store.transaction() as tx:
        tx.write_registry = captured.append  # type: ignore[method-assign]
        apply_batch(tx, items, fields=[""] * len(items), settings=CoreSettings(), now=now)
    return registry_rows(captured[0], now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    with scratch_database("ibr_perf_ingest") as url:
        run(args, url)


def run(args: argparse.Namespace, url: str) -> None:
    store = SqlStore.from_url(url, bulk_threshold=2000)
    core = IbrCore(store, settings=CoreSettings())
    caller = Caller(sender_id="SP-Bench")
    people = [person_beneficiary(f"{i:09d}", surname=f"S{i % 997}") for i in range(args.records)]

    started = time.perf_counter()
    for i in range(0, len(people), args.batch):
        core.enrollment_updates(enrollment_message(people[i : i + args.batch]), caller=caller)
    core_seconds = time.perf_counter() - started

    # Same rows, written by the store's bulk path and by raw COPY, into emptied tables.
    every_table = [name for name, _ in RegistryRows().by_table()]
    truncate(store, every_table)
    batch = decided_rows(store, people, caller)
    tables = [name for name, table_rows in batch.by_table() if table_rows]
    row_count = batch.count()

    truncate(store, tables)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        merge_with_copy(conn, batch)
    bulk_seconds = time.perf_counter() - started

    truncate(store, tables)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        for name, table_rows in batch.by_table():
            if table_rows:
                copy_rows(
                    conn,
                    name,
                    list(table_rows[0]),
                    table_rows,
                    json_columns=frozenset(
                        {"document", "evidence", "subject_keys", "identifier_checks"}
                    ),
                )
    raw_seconds = time.perf_counter() - started

    print(
        json.dumps(
            {
                "benchmark": "service_ingest",
                "backend": "postgresql",
                "records": args.records,
                "batch": args.batch,
                "core_records_per_s": round(args.records / core_seconds),
                "table_rows": row_count,
                "bulk_rows_per_s": round(row_count / bulk_seconds),
                "raw_copy_rows_per_s": round(row_count / raw_seconds),
                "bulk_vs_raw_copy": round(raw_seconds / bulk_seconds, 3),
                "core_vs_raw_copy_records": round(
                    (args.records / core_seconds) / (args.records / raw_seconds), 3
                ),
                "goals": {"api_ingest_records_per_s": 50_000, "bulk_rows_per_s": 500_000},
            },
            indent=2,
        )
    )
    store.engine.dispose()


if __name__ == "__main__":
    main()
