"""Core ingest throughput of this checkout against an older one, in alternating pairs.

Runs `benchmarks/service_ingest.py` of each tree (each with its own source on PYTHONPATH, this
checkout's Python and packages) with the same arguments against the same PostgreSQL, alternately
(the order flips every pair, so load from other work falls on both sides; a CHECKPOINT precedes
every run), and prints one JSON object: every pair's `core_records_per_s`, its ratio new/old, and
the median ratio. Both runs use service_ingest's database, so run one comparison at a time.

    git worktree add /tmp/old <commit>
    .venv/bin/python benchmarks/ingest_before_after.py --old-tree /tmp/old --pairs 6 \
        --records 10000 --batch 2000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HERE = Path(__file__).resolve().parent.parent
SOURCES = (
    "protocol/src",
    "service/src",
    "reference_client/src",
    "conformance/src",
    "mock_data/src",
)


def checkpoint() -> None:
    """Flush the previous run's dirty pages now, so that the next run does not pay for them
    (without it, in 5 pairs measured on 2026-12-04, the second run of every pair was the slower
    one, whichever code it ran)."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute("CHECKPOINT")


def run(tree: Path, records: int, batch: int) -> int:
    """`core_records_per_s` of `tree`'s service_ingest.py (its own code first on the path)."""
    checkpoint()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(tree / s) for s in SOURCES)
    script = tree / "benchmarks" / "service_ingest.py"
    out = subprocess.run(
        [sys.executable, str(script), "--records", str(records), "--batch", str(batch)],
        env=env,
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(json.loads(out)["core_records_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-tree", type=Path, required=True, help="a checkout of the old code")
    parser.add_argument("--new-tree", type=Path, default=HERE, help="default: this checkout")
    parser.add_argument("--pairs", type=int, default=6, help="even: each order equally often")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2_000)
    args = parser.parse_args()
    for tree in (args.old_tree, args.new_tree):
        if not (tree / "benchmarks" / "service_ingest.py").is_file():
            parser.error(f"{tree} has no benchmarks/service_ingest.py")

    pairs = []
    for i in range(args.pairs):
        order = ("old", "new") if i % 2 == 0 else ("new", "old")
        figures = {}
        for side in order:
            tree = args.old_tree if side == "old" else args.new_tree
            figures[side] = run(tree, args.records, args.batch)
        pairs.append(
            {
                "order": "-".join(order),
                "old_core_records_per_s": figures["old"],
                "new_core_records_per_s": figures["new"],
                "ratio_new_old": round(figures["new"] / figures["old"], 3),
            }
        )
    print(
        json.dumps(
            {
                "benchmark": "ingest_before_after",
                "old_tree": str(args.old_tree),
                "new_tree": str(args.new_tree),
                "records": args.records,
                "batch": args.batch,
                "pairs": pairs,
                "median_ratio_new_old": round(
                    statistics.median(p["ratio_new_old"] for p in pairs), 3
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
