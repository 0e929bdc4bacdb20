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

from _pg import fresh_database

from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.ingest import updates_from_beneficiary
from ibr_service.core.samples import enrollment_message, person_beneficiary
from ibr_service.store_sql import SqlStore
from ibr_service.store_sql.bulk import _PLAN, copy_rows, merge_with_copy
from ibr_service.store_sql.rows import BatchRows, decide

TABLES = [table for table, _, _ in _PLAN]


def truncate(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text("TRUNCATE " + ", ".join(t.name for t in TABLES) + ", audit_log, transactions")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()

    url = fresh_database("ibr_test_perf_2")
    store = SqlStore.from_url(url, bulk_threshold=2000)
    core = IbrCore(store, settings=CoreSettings())
    caller = Caller(sender_id="SP-Bench")
    people = [person_beneficiary(f"{i:09d}", surname=f"S{i % 997}") for i in range(args.records)]

    started = time.perf_counter()
    for i in range(0, len(people), args.batch):
        core.enrollment_updates(enrollment_message(people[i : i + args.batch]), caller=caller)
    core_seconds = time.perf_counter() - started

    # Same rows, written by the store's bulk path and by raw COPY, into emptied tables.
    now = datetime.now(UTC)
    updates = [
        u
        for i, b in enumerate(people)
        for u in updates_from_beneficiary(
            b, caller=caller, now=now, national_id_types=("NID",), field=f"b[{i}]"
        )
    ]
    outcomes, changed = decide(updates, {})
    batch = BatchRows.build(changed, outcomes, {})
    row_count = sum(len(getattr(batch, attr)) for _, _, attr in _PLAN)

    truncate(store)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        merge_with_copy(conn, batch)
    bulk_seconds = time.perf_counter() - started

    truncate(store)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        for table, _, attr in _PLAN:
            copy_rows(
                conn,
                table.name,
                [c.name for c in table.columns],
                getattr(batch, attr),
                json_columns=frozenset({"document"}),
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
