"""Analytics on PostgreSQL: overlap recompute, batch check and coverage beside raw SQL baselines.

A mock population (ibr_mock_data) is written once with COPY and replicated --copies times inside
PostgreSQL with distinct keys (``_bulk_registry``), into the store's own migrated, partitioned
schema. ``--reuse`` keeps using a database that already holds the same sizes (it is kept after
every run; ``--database`` names it) instead of loading again. Prints one JSON object with the
load average; every figure is measured in this run:

- overlap_in_database_s: the full overlap recompute joined in PostgreSQL (what
  `recompute_overlaps` runs), and overlap_full_s: the registry read into frames and detected with
  pandas, each beside raw_group_by_s: one SQL GROUP BY per excluded pair (the baseline);
- batch_check_ms: the incremental check of --batch subject keys in one query
  (``overlaps_of_touched``, what every ingested batch runs), beside batch_check_frames_ms: the
  same subjects read by key into frames and detected with pandas (the earlier way; checked equal);
- coverage_in_database_s: active beneficiaries and households by programme x region x sex x age
  band counted by the database (``snapshot_in_database``, the full ad hoc snapshot), beside
  coverage_sql_s: the person counts as one SQL query (baseline); coverage_adhoc_s: the same from
  frames of the whole registry;
- coverage_narrow_s: a narrow ad hoc question (one programme in one region, by sex and age band,
  with households: the snapshot's own query, filtered) beside coverage_narrow_sql_s: its person
  counts as one plain SQL query (baseline); checked equal to the full snapshot's cells;
- coverage rollups: rollup_rebuild_s (``ibr report rebuild-rollups``; skipped when a reused
  database's rollups are fresh, unless --rebuild-rollups), coverage_rollups_ms: the snapshot read
  from the rollups (region and level 4; checked equal to the ad hoc count), and rollup_batch_ms:
  the incremental recompute of --batch subjects' contributions (what every ingested batch adds,
  in one transaction);
- the overlaps found must equal the planted ones times --copies (checked, not timed).

``--no-frames`` skips the two measurements that read the whole registry into pandas
(overlap_full_s, coverage_adhoc_s), which do not fit or finish at 10 million enrolments on a
small machine; the JSON then lists them under "skipped", as it does the parts left out with
--skip-overlaps (recompute and batch check), --skip-recompute (keeps the batch check),
--skip-coverage (and rollups) and --skip-rollups: a later run can measure them.

    .venv/bin/python benchmarks/analytics_registry.py --people 20000 --copies 10
    .venv/bin/python benchmarks/analytics_registry.py --people 100000 --copies 356 \\
        --database ibr_bench_10m --reuse --no-frames
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).parent))

import _bulk_registry

from ibr_mock_data import small_population
from ibr_service.analytics.coverage import enrolment_snapshot
from ibr_service.analytics.coverage_sql import snapshot_in_database, snapshot_query
from ibr_service.analytics.from_records import frames_from_records
from ibr_service.analytics.overlaps import detect_overlaps
from ibr_service.analytics.overlaps_sql import detect_overlaps_in_database
from ibr_service.analytics.overlaps_touched import overlaps_of_touched
from ibr_service.analytics.rollups import read_rollups, rebuild_rollups, update_rollups
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.scoring import truth_pairs
from ibr_service.analytics.sql_source import frames_for_subjects, frames_from_engine

ON = dt.date(2025, 6, 30)
NOW = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def measured(figures: dict[str, Any], new: dict[str, Any]) -> None:
    """Add ``new`` to the figures and show it on stderr at once (a run stopped early still
    shows what it measured)."""
    figures.update(new)
    print(json.dumps(new), file=sys.stderr, flush=True)


def raw_group_by(engine: Engine, pairs: list[tuple[str, str]]) -> int:
    found = 0
    with engine.connect() as connection:
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
NARROW_SQL = """
SELECT s.sex,
       width_bucket(EXTRACT(YEAR FROM age(:on, s.birth_date)), ARRAY[0,5,18,35,60,65,80]) AS band,
       COUNT(DISTINCT s.subject_key)
FROM enrolments e JOIN subjects s USING (subject_key)
WHERE e.enrolment_status = '1' AND s.kind = 'person'
  AND e.programme_identifier = :programme AND s.area_level_1 = :area
GROUP BY 1, 2
"""


def narrow_snapshot(engine: Engine, programme: str, area: str) -> pd.DataFrame:
    """One programme in one region by sex and age band: the snapshot's own query, filtered
    (PostgreSQL pushes the filter into both arms of its UNION)."""
    inner, params = snapshot_query(1, ON)
    query = f"SELECT * FROM ({inner}) cells WHERE programme = :programme AND area = :area"  # noqa: S608
    with engine.connect() as connection:
        rows = connection.execute(text(query), {**params, "programme": programme, "area": area})
        return pd.DataFrame(rows.all(), columns=list(rows.keys()))


def narrow_coverage(engine: Engine, snapshot: pd.DataFrame) -> dict[str, Any]:
    """The narrow question on the snapshot's largest programme x region, checked against it."""
    sizes = snapshot.groupby(["programme", "area"])["beneficiaries"].sum()
    programme, area = sizes.idxmax()
    narrow_s, narrow = timed(lambda: narrow_snapshot(engine, programme, area))
    cells = snapshot[(snapshot.programme == programme) & (snapshot.area == area)]
    assert int(narrow["beneficiaries"].sum()) == int(cells["beneficiaries"].sum())
    with engine.connect() as connection:
        sql_s, _ = timed(
            lambda: connection.execute(
                text(NARROW_SQL), {"on": ON, "programme": programme, "area": area}
            ).all()
        )
    return {
        "coverage_narrow_question": f"{programme} in region {area} by sex and age band",
        "coverage_narrow_s": round(narrow_s, 3),
        "coverage_narrow_sql_s": round(sql_s, 3),
        "coverage_narrow_vs_sql": round(narrow_s / sql_s, 2),
    }


def coverage_rollups(
    engine: Engine, keys: list[str], ad_hoc: pd.DataFrame, rebuild: bool
) -> dict[str, Any]:
    """Rebuild the rollups (unless fresh ones are reused), read the snapshot from them,
    recompute a batch's subjects."""
    out: dict[str, Any] = {}
    if rebuild or read_rollups(engine, 1, ON) is None:
        rebuild_s, cells = timed(lambda: rebuild_rollups(engine, ON, NOW))
        measured(out, {"rollup_cells": cells, "rollup_rebuild_s": round(rebuild_s, 2)})
    else:
        out["rollup_rebuild_s"] = "skipped: the reused database's rollups are fresh"
    read_s, fast = timed(lambda: read_rollups(engine, 1, ON))
    pd.testing.assert_frame_equal(fast, ad_hoc)  # the rollups equal the ad hoc count
    read4_s, _ = timed(lambda: read_rollups(engine, 4, ON))

    def batch() -> None:
        with engine.begin() as connection:
            update_rollups(connection, keys, NOW, ON)

    batch_s, _ = timed(batch)
    pd.testing.assert_frame_equal(read_rollups(engine, 1, ON), ad_hoc)
    measured(
        out,
        {
            "coverage_rollups_ms": round(read_s * 1000, 1),
            "coverage_rollups_level4_ms": round(read4_s * 1000, 1),
            "rollup_batch_ms": round(batch_s * 1000, 1),
        },
    )
    return out


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--database", default="ibr_bench_analytics", help="kept after the run")
    parser.add_argument(
        "--reuse", action="store_true", help="use the database if it holds these sizes already"
    )
    parser.add_argument("--no-frames", action="store_true", help="skip the whole-registry pandas")
    parser.add_argument("--rebuild-rollups", action="store_true", help="even if fresh on reuse")
    parser.add_argument("--skip-overlaps", action="store_true", help="no recompute, batch check")
    parser.add_argument("--skip-rollups", action="store_true", help="no rollup figures")
    parser.add_argument("--skip-recompute", action="store_true", help="batch check only")
    parser.add_argument("--skip-coverage", action="store_true", help="no coverage, no rollups")
    args = parser.parse_args()
    if args.people < 1 or args.copies < 1 or args.batch < 1:
        parser.error("--people, --copies and --batch must be positive")
    return args


def recompute_figures(
    engine: Engine, pop: Any, base: Any, rules: Any, args: argparse.Namespace
) -> tuple[dict[str, Any], Any]:
    """The full overlap recompute beside the raw GROUP BY; the whole registry's frames too
    unless --no-frames (else None)."""
    expected = len(truth_pairs(pop.truth, "cross_programme_overlap")) * args.copies
    excluded = [rule.programmes for rule in rules.excluded_pairs(base.programmes())]
    raw_s, _ = timed(lambda: raw_group_by(engine, excluded))
    in_db_s, in_db = timed(lambda: detect_overlaps_in_database(engine, rules))
    assert len(in_db) == expected, (len(in_db), expected)
    out: dict[str, Any] = {}
    measured(
        out,
        {
            "overlaps": len(in_db),
            "raw_group_by_s": round(raw_s, 3),
            "overlap_in_database_s": round(in_db_s, 3),
            "overlap_in_database_vs_raw_group_by": round(in_db_s / raw_s, 2),
        },
    )
    registry = None
    if not args.no_frames:
        read_s, registry = timed(lambda: frames_from_engine(engine))
        detect_s, overlaps = timed(lambda: detect_overlaps(registry, rules))
        assert len(overlaps) == expected, (len(overlaps), expected)
        measured(
            out,
            {
                "overlap_full_s": round(read_s + detect_s, 3),
                "overlap_read_s": round(read_s, 3),
                "overlap_detect_s": round(detect_s, 3),
                "overlap_full_vs_raw_group_by": round((read_s + detect_s) / raw_s, 2),
            },
        )
    return out, registry


def overlap_figures(
    engine: Engine, pop: Any, base: Any, keys: list[str], args: argparse.Namespace
) -> tuple[dict[str, Any], Any]:
    """The overlap recompute and batch check beside their baselines; the whole registry's
    frames too unless --no-frames (else None)."""
    rules = load_rules()
    out: dict[str, Any] = {}
    registry = None
    if not args.skip_recompute:
        out, registry = recompute_figures(engine, pop, base, rules, args)
    frames_batch_s, on_frames_batch = timed(
        lambda: detect_overlaps(frames_for_subjects(engine, keys), rules, subject_keys=keys)
    )
    with engine.connect() as connection:
        batch_s, in_one_query = timed(lambda: overlaps_of_touched(connection, rules, keys))
    assert [r["case_id"] for r in in_one_query] == list(on_frames_batch["case_id"])
    measured(
        out,
        {
            "batch_subjects": args.batch,
            "batch_check_ms": round(batch_s * 1000, 1),
            "batch_check_frames_ms": round(frames_batch_s * 1000, 1),
            "batch_overlaps": len(in_one_query),
        },
    )
    return out, registry


def coverage_figures(
    engine: Engine, keys: list[str], registry: Any, args: argparse.Namespace, out: dict[str, Any]
) -> None:
    """The coverage snapshot ad hoc and from the rollups, beside plain SQL; into ``out``."""
    with engine.connect() as connection:
        sql_s, _ = timed(lambda: connection.execute(text(COVERAGE_SQL), {"on": ON}).all())
    in_db_coverage_s, in_db_coverage = timed(lambda: snapshot_in_database(engine, 1, ON))
    measured(
        out,
        {
            "coverage_sql_s": round(sql_s, 3),
            "coverage_in_database_s": round(in_db_coverage_s, 3),
            "coverage_in_database_vs_sql": round(in_db_coverage_s / sql_s, 2),
        },
    )
    if registry is not None:
        coverage_s, on_frames = timed(lambda: enrolment_snapshot(registry, 1, ON))
        assert in_db_coverage["beneficiaries"].sum() == on_frames["beneficiaries"].sum()
        measured(
            out,
            {
                "coverage_adhoc_s": round(coverage_s, 3),
                "coverage_adhoc_vs_sql": round(coverage_s / sql_s, 2),
            },
        )
    measured(out, narrow_coverage(engine, in_db_coverage))
    if not args.skip_rollups:
        rollups = coverage_rollups(engine, keys, in_db_coverage, args.rebuild_rollups)
        out.update(rollups)
        out["coverage_rollups_vs_sql"] = round(rollups["coverage_rollups_ms"] / 1000 / sql_s, 4)


def main() -> None:
    args = arguments()
    load_start = os.getloadavg()
    pop = small_population(seed=1, people=args.people, country="KE")
    base = frames_from_records(pop.beneficiaries)
    holds = {"people": args.people, "copies": args.copies, "seed": 1}
    reused = args.reuse and _bulk_registry.reusable(args.database, holds)
    if reused:
        load_s, url = None, _bulk_registry.reuse(args.database)
    else:
        load_s, url = timed(lambda: _bulk_registry.build(args.database, base, args.copies, holds))
    engine = create_engine(url)
    out: dict[str, Any] = {}
    skipped = []
    with engine.connect() as connection:
        count = "SELECT (SELECT COUNT(*) FROM enrolments), (SELECT COUNT(*) FROM subjects)"
        enrolment_count, subject_count = connection.execute(text(count)).one()
    assert enrolment_count == len(base.enrolments) * args.copies, enrolment_count
    enrolled = sorted(set(base.enrolments.subject_key))
    picks = random.Random(1).sample(range(len(enrolled) * args.copies), args.batch)
    keys = [f"{enrolled[i % len(enrolled)]}#{i // len(enrolled)}" for i in picks]

    registry = None
    if args.skip_recompute:
        skipped.append("overlap recompute: --skip-recompute")
    if args.skip_overlaps:
        skipped.append("overlap recompute and batch check: --skip-overlaps")
    else:
        figures, registry = overlap_figures(engine, pop, base, keys, args)
        out.update(figures)
    if args.no_frames:
        skipped.append("overlap_full_s, coverage_adhoc_s: the whole registry read into pandas")

    if args.skip_coverage:
        skipped.append("coverage and rollups: --skip-coverage")
    else:
        coverage_figures(engine, keys, registry, args, out)
    if args.skip_rollups:
        skipped.append("coverage rollups: --skip-rollups")
    engine.dispose()
    print(
        json.dumps(
            {
                "database": args.database,
                "reused": reused,
                "enrolments": enrolment_count,
                "subjects": subject_count,
                "load_s": None if load_s is None else round(load_s, 1),
                **out,
                "skipped": skipped,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                "load_average_start": [round(x, 2) for x in load_start],
                "load_average_end": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
