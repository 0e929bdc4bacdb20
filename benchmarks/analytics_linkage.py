"""Probabilistic deduplication (splink on DuckDB) of people read from Parquet, beside exact match.

Reads a directory written by `analytics_linkage_input.py` (generating the people is not part of
this process) and prints one JSON object measured in this run: people linked; seconds (wall and
CPU) to load the Parquet files, to train (with `--train`; else the model is read from `--model`,
as a deployment scores with the model it trained once), to score the pairs and to keep those
sharing a programme (as `ibr report duplicates` does); peak resident memory of this process;
precision/recall/F1 against the planted fuzzy duplicates; the baseline, an exact-match
self-join on (names, birth date, district) in DuckDB over the same table, with the ratio; and
the load average at the start and the end.

    .venv/bin/python benchmarks/analytics_linkage_input.py --people 4600000 --out /tmp/linkage
    .venv/bin/python benchmarks/analytics_linkage.py --input /tmp/linkage --train --save-model m
    .venv/bin/python benchmarks/analytics_linkage.py --input /tmp/linkage --model m
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ibr_service.analytics.duplicates import DEFAULT_MATCH_THRESHOLD, probable_duplicates
from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.linkage import duckdb_connection, load_model, save_model, train
from ibr_service.analytics.scoring import pairs_of, score_pairs

EXACT = """
SELECT count(*) FROM linkage_records l JOIN linkage_records r
  ON l.given_name = r.given_name AND l.surname = r.surname
 AND l.birth_date = r.birth_date AND l.area_level_2 = r.area_level_2
 AND l.unique_id < r.unique_id
"""


def timed(phases: dict[str, dict[str, float]], name: str, work: Callable[[], Any]) -> Any:
    """Run ``work``; record its wall and CPU seconds (all threads of this process)."""
    cpu = time.process_time()
    wall = time.perf_counter()
    result = work()
    wall_s = time.perf_counter() - wall
    phases[name] = {"wall_s": round(wall_s, 2), "cpu_s": round(time.process_time() - cpu, 2)}
    return result


def parquet_files(directory: Path, table: str, parts: int | None) -> list[str]:
    files = sorted(str(f) for f in (directory / table).glob("*.parquet"))
    if not files:
        raise AnalyticsError(f"{directory / table}: no Parquet files (run analytics_linkage_input)")
    return files[:parts] if parts else files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--parts", type=int, help="only the first N parts (200,000 generated each)")
    parser.add_argument("--model", type=Path, help="a model saved by --save-model")
    parser.add_argument("--train", action="store_true", help="train the model in this run")
    parser.add_argument("--save-model", type=Path)
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: every core)")
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 3GB")
    parser.add_argument("--threshold", type=float, default=DEFAULT_MATCH_THRESHOLD)
    args = parser.parse_args()
    if args.train == bool(args.model):
        sys.exit("give either --train or --model FILE")

    load_at_start = os.getloadavg()
    phases: dict[str, dict[str, float]] = {}
    connection = duckdb_connection(threads=args.threads, memory_limit=args.memory_limit)
    tables = ("records", "enrolments", "truth")
    files = {t: parquet_files(args.input, t, args.parts) for t in tables}

    def load() -> pd.DataFrame:
        connection.execute(
            "CREATE TEMP TABLE linkage_records AS SELECT DISTINCT ON (unique_id) * "
            "FROM read_parquet(?)",
            [files["records"]],
        )
        return connection.execute(
            "SELECT DISTINCT subject_key, programme_identifier FROM read_parquet(?)",
            [files["enrolments"]],
        ).df()

    enrolments = timed(phases, "load", load)
    model = (
        timed(phases, "train", lambda: train("linkage_records", connection=connection))
        if args.train
        else load_model(args.model)
    )
    if args.save_model:
        save_model(model, args.save_model)
    result = timed(
        phases,
        "score",
        lambda: probable_duplicates(
            "linkage_records", enrolments, model, args.threshold, connection=connection
        ),
    )
    exact_pairs = timed(phases, "exact_join", lambda: connection.execute(EXACT).fetchone()[0])

    truth = connection.execute("SELECT * FROM read_parquet(?)", [files["truth"]]).df()
    score = score_pairs(
        "fuzzy_duplicate",
        pairs_of(truth, "subject_key_l", "subject_key_r"),
        pairs_of(result.pairs, "subject_key_l", "subject_key_r"),
    )
    linked = connection.execute("SELECT count(*) FROM linkage_records").fetchone()[0]
    linkage_s = phases["score"]["wall_s"] + phases.get("train", {}).get("wall_s", 0)
    report = {
        "people_linked": linked,
        "threads": connection.execute("SELECT current_setting('threads')").fetchone()[0],
        "memory_limit": connection.execute("SELECT current_setting('memory_limit')").fetchone()[0],
        "phases": phases,
        "linkage_s": round(linkage_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "pairs": len(result.pairs),
        "precision": round(score.precision, 4),
        "recall": round(score.recall, 4),
        "f1": round(score.f1, 4),
        "planted": score.expected,
        "exact_join_pairs": exact_pairs,
        "linkage_vs_exact_join": round(linkage_s / max(phases["exact_join"]["wall_s"], 0.01), 1),
        "load_average_start": [round(x, 2) for x in load_at_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    try:
        main()
    except AnalyticsError as error:
        sys.exit(f"analytics_linkage: {error}")
