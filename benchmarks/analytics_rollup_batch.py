"""Coverage rollups kept by a batch, on a registry already loaded: what each ingested batch adds.

Reuses a database that ``analytics_registry.py --database NAME`` left behind (it is not dropped),
builds its rollups when it has none (``rebuild_rollups``, timed), then for each --sizes: the
incremental recompute of that many random enrolled subjects (``update_rollups``, what
``RollupUpdate`` runs in a batch's transaction), each in a transaction rolled back so that every
run starts from the same rollups, --repeat times (the median and the fastest are printed). The
baseline in the same run: the coverage counted ad hoc by the database (``snapshot_in_database``,
region), which the rollups spare the readers. Prints one JSON object with the load average.

    .venv/bin/python benchmarks/analytics_rollup_batch.py --database ibr_bench_analytics
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time

import sqlalchemy as sa

from ibr_service.analytics.coverage_sql import snapshot_in_database
from ibr_service.analytics.rollups import rebuild_rollups, rollup_state, update_rollups

ON = dt.date(2025, 6, 30)
NOW = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


def batch_ms(engine: sa.Engine, keys: list[str]) -> float:
    """One batch's recompute, in a transaction rolled back."""
    with engine.connect() as connection:
        started = time.perf_counter()
        update_rollups(connection, keys, NOW, ON)
        elapsed = time.perf_counter() - started
        connection.rollback()
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="ibr_bench_analytics", help="loaded beforehand")
    parser.add_argument("--sizes", default="20,100,1000,10000", help="subjects per batch")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.database}")
    out: dict[str, object] = {"load_average_start": os.getloadavg()}
    with engine.connect() as connection:
        enrolled = sorted(
            connection.execute(sa.text("SELECT DISTINCT subject_key FROM enrolments")).scalars()
        )
    out["enrolments"] = len(enrolled)
    state = rollup_state(engine)
    if state is None or state["as_of"] != ON:
        started = time.perf_counter()
        rebuild_rollups(engine, ON, NOW)
        out["rollup_rebuild_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    snapshot_in_database(engine, 1, ON)
    ad_hoc_ms = (time.perf_counter() - started) * 1000
    out["coverage_in_database_ms"] = round(ad_hoc_ms, 1)
    rng = random.Random(1)
    for size in (int(s) for s in args.sizes.split(",")):
        runs = [batch_ms(engine, rng.sample(enrolled, size)) for _ in range(args.repeat)]
        out[f"rollup_batch_{size}_ms"] = round(statistics.median(runs), 1)
        out[f"rollup_batch_{size}_fastest_ms"] = round(min(runs), 1)
        out[f"rollup_batch_{size}_vs_coverage_in_database"] = round(
            statistics.median(runs) / ad_hoc_ms, 4
        )
    out["load_average_end"] = os.getloadavg()
    engine.dispose()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
