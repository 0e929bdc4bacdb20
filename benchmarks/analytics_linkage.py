"""Probabilistic deduplication (splink on DuckDB) of a mock population, beside an exact match.

Prints one JSON object measured in this run: people linked, training and scoring seconds (the
scoring keeps pairs sharing a programme, as `ibr report duplicates` does), peak
resident memory of this process, precision/recall/F1 against the planted fuzzy duplicates, and
the baseline: an exact-match self-join on (name, birth date, district) in DuckDB over the same
records, with the ratio.

    .venv/bin/python benchmarks/analytics_linkage.py --people 200000
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import duckdb

from ibr_mock_data import small_population
from ibr_service.analytics.duplicates import DEFAULT_MATCH_THRESHOLD, fuzzy_duplicates
from ibr_service.analytics.from_records import frames_from_records
from ibr_service.analytics.linkage import linkage_input, train
from ibr_service.analytics.scoring import pairs_of, score_pairs, truth_pairs

EXACT = """
SELECT l.unique_id, r.unique_id FROM records l JOIN records r
  ON l.given_name = r.given_name AND l.surname = r.surname
 AND l.birth_date = r.birth_date AND l.area_level_2 = r.area_level_2
 AND l.unique_id < r.unique_id
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    args = parser.parse_args()

    pop = small_population(seed=2, people=args.people, country="KE")
    frames = frames_from_records(pop.beneficiaries)
    records = linkage_input(frames)

    started = time.perf_counter()
    model = train(records)
    trained = time.perf_counter()
    result = fuzzy_duplicates(frames, model=model, threshold=DEFAULT_MATCH_THRESHOLD)
    scored = time.perf_counter()
    pairs = result.pairs  # scored pairs of people sharing a programme

    connection = duckdb.connect()
    connection.register("records", records)
    baseline_started = time.perf_counter()
    exact = connection.execute(EXACT).fetchall()
    baseline_s = time.perf_counter() - baseline_started

    expected = truth_pairs(pop.truth, "fuzzy_duplicate", frames)
    score = score_pairs(
        "fuzzy_duplicate", expected, pairs_of(pairs, "subject_key_l", "subject_key_r")
    )
    linkage_s = scored - started
    print(
        json.dumps(
            {
                "people_generated": args.people,
                "people_linked": len(records),
                "train_s": round(trained - started, 2),
                "predict_s": round(scored - trained, 2),
                "linkage_s": round(linkage_s, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "pairs": len(pairs),
                "precision": round(score.precision, 4),
                "recall": round(score.recall, 4),
                "f1": round(score.f1, 4),
                "exact_join_s": round(baseline_s, 3),
                "exact_join_pairs": len(exact),
                "linkage_vs_exact_join": round(linkage_s / baseline_s, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
