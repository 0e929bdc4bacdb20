"""What the overlap check costs ingest: 20-item batches through the core on PostgreSQL.

The same mock records go, batch by batch and in alternating order, into three fresh databases:
no batch check, the one-query check (``analytics.cases.OverlapCheck``, what hosts run), and the
earlier check (the batch's subjects read by key into frames, detected with pandas). Prints one
JSON object: p50/p90 per variant in milliseconds, and the items each noted
``succ.overlap.detected`` (the two checks must note the same number).

    .venv/bin/python benchmarks/analytics_ingest_check.py --people 6000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pg import scratch_database

from ibr_mock_data import small_population
from ibr_service.analytics.cases import OverlapCheck, _record, overlap_rows
from ibr_service.analytics.overlaps import detect_overlaps
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.sql_source import frames_for_subjects, where_in
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.batch_checks import REASON_OVERLAP_DETECTED, BatchCheck, Conflict
from ibr_service.core.samples import enrollment_message
from ibr_service.core.store import StoreTransaction
from ibr_service.store_sql import SqlStore
from ibr_service.store_sql.store import SqlTransaction


class FramesCheck(OverlapCheck):
    """The check as it was before the one query: frames read by key, pandas joins."""

    def __call__(
        self, tx: StoreTransaction, enrolment_keys: frozenset[str], now: datetime
    ) -> list[Conflict]:
        assert isinstance(tx, SqlTransaction)
        touched = where_in(tx.connection, "enrolments", "enrolment_key", set(enrolment_keys))
        subjects = set(touched["subject_key"])
        frames = frames_for_subjects(tx.connection, subjects)
        found = overlap_rows(detect_overlaps(frames, self.rules, subject_keys=subjects))
        return [
            Conflict(
                case_id=row["case_id"],
                enrolment_keys=frozenset((row["enrolment_key_a"], row["enrolment_key_b"])),
                programmes=frozenset((row["programme_a"], row["programme_b"])),
            )
            for row in _record(tx.connection, found, now)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--database-prefix", default="ibr_bench_ingest_check")
    args = parser.parse_args()

    records = small_population(seed=4, people=args.people, country="KE").beneficiaries
    rules = load_rules()
    variants = {"none": [], "one_query": [OverlapCheck(rules)], "frames": [FramesCheck(rules)]}
    with ExitStack() as stack:
        stores = {
            name: SqlStore.from_url(
                stack.enter_context(scratch_database(f"{args.database_prefix}_{name}"))
            )
            for name in variants
        }
        figures = measure(records, args.batch, variants, stores)
    print(json.dumps(figures, indent=2))


def measure(
    records: list[dict[str, Any]],
    batch_size: int,
    variants: dict[str, list[BatchCheck]],
    stores: dict[str, SqlStore],
) -> dict[str, Any]:
    """Each batch into each variant's store, in alternating order; the figures."""
    cores = {
        name: IbrCore(stores[name], settings=CoreSettings(receiver_id="IBR"), batch_checks=checks)
        for name, checks in variants.items()
    }
    caller = Caller(sender_id="SP-Bench", scopes=frozenset({"ibr.write"}))
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    noted = dict.fromkeys(variants, 0)
    for n, start in enumerate(range(0, len(records), batch_size)):
        batch = records[start : start + batch_size]
        order = list(variants) if n % 2 else list(reversed(variants))
        for name in order:
            started = time.perf_counter()
            answer = cores[name].enrollment_updates(
                enrollment_message(batch, f"T-{start}"), caller=caller
            )
            seconds[name].append(time.perf_counter() - started)
            items = answer["enrolled_response"]
            noted[name] += sum(
                i.get("status_reason_code") == REASON_OVERLAP_DETECTED for i in items
            )
    for store in stores.values():
        store.engine.dispose()
    return {
        "records": len(records),
        "batches": len(seconds["none"]),
        **{f"p50_ms_{k}": round(statistics.median(v) * 1000, 1) for k, v in seconds.items()},
        **{
            f"p90_ms_{k}": round(statistics.quantiles(v, n=10)[-1] * 1000, 1)
            for k, v in seconds.items()
        },
        **{f"noted_{k}": v for k, v in noted.items()},
    }


if __name__ == "__main__":
    main()
