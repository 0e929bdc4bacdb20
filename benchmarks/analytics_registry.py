"""Analytics on PostgreSQL: overlap recompute, batch check and coverage beside raw SQL baselines.

A mock population (ibr_mock_data) is turned into registry rows and copied --copies times with
distinct keys to reach the size asked, then written with COPY into a fresh database. Prints one
JSON object; every figure is measured in this run:

- overlap_full_s: read the registry and detect every overlap on frames, and
  overlap_in_database_s: the same recompute joined in PostgreSQL (what `recompute_overlaps`
  runs), each beside raw_group_by_s: one SQL GROUP BY per excluded pair (the baseline);
- batch_check_ms: the incremental check of --batch subject keys in one query
  (``overlaps_of_touched``, what every ingested batch runs), beside batch_check_frames_ms: the
  same subjects read by key into frames and detected with pandas (the earlier way; checked equal);
- coverage_adhoc_s: active beneficiaries by programme x region x sex x age band from the frames
  already read, coverage_in_database_s: the same counted by the database with households
  (``snapshot_in_database``), and coverage_sql_s: the person counts as one SQL query (baseline);
- coverage rollups: rollup_rebuild_s (``ibr report rebuild-rollups``), coverage_rollups_ms: the
  same snapshot read from the rollups (region and level 4; checked equal to the ad hoc count), and
  rollup_batch_ms: the incremental recompute of --batch subjects' contributions (what every
  ingested batch adds, in one transaction);
- the overlaps found must equal the planted ones times --copies (checked, not timed).

    .venv/bin/python benchmarks/analytics_registry.py --people 20000 --copies 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))

from _pg import fresh_database

from ibr_mock_data import small_population
from ibr_service.analytics.coverage import enrolment_snapshot
from ibr_service.analytics.coverage_sql import snapshot_in_database
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.analytics.from_records import frames_from_records
from ibr_service.analytics.overlaps import detect_overlaps
from ibr_service.analytics.overlaps_sql import detect_overlaps_in_database
from ibr_service.analytics.overlaps_touched import overlaps_of_touched
from ibr_service.analytics.rollups import read_rollups, rebuild_rollups, update_rollups
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.scoring import truth_pairs
from ibr_service.analytics.sql_source import frames_for_subjects, frames_from_engine
from ibr_service.store_sql import SqlStore

NOW = "2025-07-01T00:00:00+00:00"


def copies(frames: RegistryFrames, n: int) -> dict[str, pd.DataFrame]:
    """The frames repeated ``n`` times, every key suffixed with the copy number."""
    out: dict[str, list[pd.DataFrame]] = {"subjects": [], "memberships": [], "enrolments": []}
    for copy in range(n):
        tag = f"#{copy}"
        out["subjects"].append(
            frames.subjects.assign(subject_key=frames.subjects.subject_key + tag)
        )
        out["memberships"].append(
            frames.memberships.assign(
                subject_key=frames.memberships.subject_key + tag,
                member_key=frames.memberships.member_key + tag,
            )
        )
        e = frames.enrolments
        out["enrolments"].append(
            e.assign(
                subject_key=e.subject_key + tag,
                enrolment_key=e.enrolment_key + tag,
                beneficiary_programme_id=e.beneficiary_programme_id + tag,
            )
        )
    return {name: pd.concat(parts, ignore_index=True) for name, parts in out.items()}


def copy_into(store: SqlStore, table: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d")
    columns = ", ".join(frame.columns)
    raw = store.engine.raw_connection()
    try:
        statement = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
            copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


def load(store: SqlStore, rows: dict[str, pd.DataFrame]) -> None:
    subjects = rows["subjects"].assign(
        document="{}", content_hash="-", created_at=NOW, updated_at=NOW
    )
    copy_into(store, "subjects", subjects)
    copy_into(store, "memberships", rows["memberships"])
    enrolments = rows["enrolments"].assign(
        source_key=lambda f: f.sender_id + "|" + f.programme_identifier + "|" + f.enrolment_key,
        content_hash="-",
        updated_at=NOW,
    )
    copy_into(store, "enrolments", enrolments)
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def raw_group_by(store: SqlStore, pairs: list[tuple[str, str]]) -> int:
    found = 0
    with store.engine.connect() as connection:
        for a, b in pairs:
            query = text(
                "SELECT subject_key FROM enrolments WHERE programme_identifier IN (:a, :b) "
                "GROUP BY subject_key HAVING COUNT(DISTINCT programme_identifier) = 2"
            )
            found += len(connection.execute(query, {"a": a, "b": b}).all())
    return found


COVERAGE_SQL = """
SELECT e.programme_identifier, s.area_level_1, s.sex,
       width_bucket(EXTRACT(YEAR FROM age(:on, s.birth_date)), ARRAY[0,5,18,35,60,65,80]) AS band,
       COUNT(DISTINCT s.subject_key)
FROM enrolments e JOIN subjects s USING (subject_key)
WHERE e.enrolment_status = '1' AND s.kind = 'person'
GROUP BY 1, 2, 3, 4
"""


def coverage_rollups(
    store: SqlStore, on: dt.date, keys: list[str], ad_hoc: pd.DataFrame
) -> dict[str, float]:
    """Rebuild the rollups, read the snapshot from them, recompute a batch's subjects."""
    now = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    rebuild_s, cells = timed(lambda: rebuild_rollups(store.engine, on, now))
    read_s, fast = timed(lambda: read_rollups(store.engine, 1, on))
    pd.testing.assert_frame_equal(fast, ad_hoc)  # the rollups equal the ad hoc count
    read4_s, _ = timed(lambda: read_rollups(store.engine, 4, on))

    def batch() -> None:
        with store.engine.begin() as connection:
            update_rollups(connection, keys, now, on)

    batch_s, _ = timed(batch)
    pd.testing.assert_frame_equal(read_rollups(store.engine, 1, on), ad_hoc)
    return {
        "rollup_cells": cells,
        "rollup_rebuild_s": round(rebuild_s, 2),
        "coverage_rollups_ms": round(read_s * 1000, 1),
        "coverage_rollups_level4_ms": round(read4_s * 1000, 1),
        "rollup_batch_ms": round(batch_s * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--database", default="ibr_bench_analytics", help="dropped and created")
    args = parser.parse_args()

    pop = small_population(seed=1, people=args.people, country="KE")
    frames = frames_from_records(pop.beneficiaries)
    rows = copies(frames, args.copies)
    store = SqlStore.from_url(fresh_database(args.database))
    load_s, _ = timed(lambda: load(store, rows))
    rules = load_rules()

    read_s, registry = timed(lambda: frames_from_engine(store.engine))
    detect_s, overlaps = timed(lambda: detect_overlaps(registry, rules))
    expected = len(truth_pairs(pop.truth, "cross_programme_overlap")) * args.copies
    assert len(overlaps) == expected, (len(overlaps), expected)
    excluded = [rule.programmes for rule in rules.excluded_pairs(registry.programmes())]
    raw_s, _ = timed(lambda: raw_group_by(store, excluded))
    in_db_s, in_db = timed(lambda: detect_overlaps_in_database(store.engine, rules))
    assert len(in_db) == expected, (len(in_db), expected)

    keys = random.Random(1).sample(sorted(set(rows["enrolments"].subject_key)), args.batch)
    frames_batch_s, on_frames_batch = timed(
        lambda: detect_overlaps(frames_for_subjects(store.engine, keys), rules, subject_keys=keys)
    )
    with store.engine.connect() as connection:
        batch_s, in_one_query = timed(lambda: overlaps_of_touched(connection, rules, keys))
    assert [r["case_id"] for r in in_one_query] == list(on_frames_batch["case_id"])
    on = dt.date(2025, 6, 30)
    coverage_s, on_frames = timed(lambda: enrolment_snapshot(registry, 1, on))
    in_db_coverage_s, in_db_coverage = timed(lambda: snapshot_in_database(store.engine, 1, on))
    assert in_db_coverage["beneficiaries"].sum() == on_frames["beneficiaries"].sum()
    with store.engine.connect() as connection:
        sql_s, _ = timed(lambda: connection.execute(text(COVERAGE_SQL), {"on": on}).all())
    rollups = coverage_rollups(store, on, keys, in_db_coverage)
    store.engine.dispose()
    overlap_full_s = read_s + detect_s
    print(
        json.dumps(
            {
                "enrolments": len(rows["enrolments"]),
                "subjects": len(rows["subjects"]),
                "overlaps": len(overlaps),
                "load_copy_s": round(load_s, 2),
                "overlap_full_s": round(overlap_full_s, 3),
                "overlap_read_s": round(read_s, 3),
                "overlap_detect_s": round(detect_s, 3),
                "raw_group_by_s": round(raw_s, 3),
                "overlap_full_vs_raw_group_by": round(overlap_full_s / raw_s, 2),
                "overlap_in_database_s": round(in_db_s, 3),
                "overlap_in_database_vs_raw_group_by": round(in_db_s / raw_s, 2),
                "batch_subjects": args.batch,
                "batch_check_ms": round(batch_s * 1000, 1),
                "batch_check_frames_ms": round(frames_batch_s * 1000, 1),
                "batch_overlaps": len(in_one_query),
                "coverage_adhoc_s": round(coverage_s, 3),
                "coverage_sql_s": round(sql_s, 3),
                "coverage_adhoc_vs_sql": round(coverage_s / sql_s, 2),
                "coverage_in_database_s": round(in_db_coverage_s, 3),
                "coverage_in_database_vs_sql": round(in_db_coverage_s / sql_s, 2),
                **rollups,
                "coverage_rollups_vs_sql": round(rollups["coverage_rollups_ms"] / 1000 / sql_s, 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
