"""Throughput and memory of the mock-data generator (`ibr_mock_data`). Prints JSON.

Runs the generator in a fresh process at a small and at the full size, with the CSV output (the
fast path; add `--format jsonl` to time the canonical records too), and reports people/s, benefit
rows/s and peak RSS of the parent and of the largest worker. Flat memory means the peak RSS at the
full size is close to the one at the small size. The baseline, measured in the same run, is the
time to write the same number of benefit rows of constant data with `csv.writer`: the I/O floor.

    .venv/bin/python benchmarks/mock_data_throughput.py --people 1000000 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(people: int, workers: int, formats: list[str], out: Path) -> dict[str, object]:
    from ibr_mock_data import GeneratorConfig, write_population

    started = time.perf_counter()
    summary = write_population(GeneratorConfig(people=people), out, formats, workers=workers)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    return {
        "people": people,
        "formats": formats,
        "seconds": round(seconds, 2),
        **summary.as_dict(),
        "people_per_second": round(people / seconds),
        "benefit_rows_per_second": round(summary.benefits / seconds),
        "bytes_written": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
        "peak_rss_parent_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_worker_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }


def _baseline(rows: int, out: Path) -> float:
    row = ("OAP-00001-1234567-001", "OAP-00001-1234567", "OAP", "1", "2025-01-25", "2025-01-01",
           "2025-01-31", "2000.00", "KES", None)  # fmt: skip
    started = time.perf_counter()
    with (out / "baseline.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for _ in range(rows // 10_000):
            writer.writerows([row] * 10_000)
    return time.perf_counter() - started


def _run(people: int, workers: int, formats: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, __file__, "--child", "--people", str(people),
                "--workers", str(workers), "--out", tmp]  # fmt: skip
        for f in formats:
            args += ["--format", f]
        result = subprocess.run(args, check=True, capture_output=True, text=True)
        return dict(json.loads(result.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", action="append", dest="formats")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    formats = args.formats or ["csv"]
    if args.child:
        print(json.dumps(_child(args.people, args.workers, formats, args.out)))
        return
    small = _run(max(10_000, args.people // 10), args.workers, formats)
    full = _run(args.people, args.workers, formats)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = _baseline(int(str(full["benefits"])), Path(tmp))
    seconds = float(str(full["seconds"]))
    print(
        json.dumps(
            {
                "benchmark": "mock_data_throughput",
                "goal": "1,000,000 people with households, enrolments, ~5M benefit rows in <= 60 s",
                "full": full,
                "small": small,
                "baseline_csv_write_seconds": round(baseline, 2),
                "ratio_to_baseline": round(seconds / baseline, 2),
                "peak_rss_growth_full_vs_small": round(
                    float(str(full["peak_rss_worker_mb"]))
                    / float(str(small["peak_rss_worker_mb"])),
                    2,
                ),
                "meets_goal": seconds <= 60,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
