"""Write the input of `analytics_linkage.py` once: a mock population's people as Parquet.

Generates `--people` people (block by block, in `--workers` processes) and writes to `--out`:
`records.parquet` (one row per enrolled person, the columns the linkage model compares),
`enrolments.parquet` (subject_key, programme_identifier) and `truth.parquet` (the planted fuzzy
duplicates as subject pairs). About 22 % of generated people are enrolled somewhere, so a
million people to link takes about 4.6 million generated.

    .venv/bin/python benchmarks/analytics_linkage_input.py --people 4600000 --out /tmp/linkage-1m

Run again after an interruption, it writes only the parts still missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.generate import generate_block
from ibr_service.analytics.from_records import frames_from_records
from ibr_service.analytics.linkage import linkage_input
from ibr_service.analytics.scoring import truth_pairs

BLOCKS_PER_PART = 40  # 200,000 people a part: memory stays flat whatever --people is


def write_part(config: GeneratorConfig, first: int, out: Path) -> int:
    """Blocks ``first..`` as three Parquet parts; planted duplicates never cross blocks. A part
    written by an earlier, interrupted run is kept (its truth file is written last)."""
    name = f"part-{first:06d}.parquet"
    if (out / "truth" / name).exists():
        return int(pq.ParquetFile(out / "records" / name).metadata.num_rows)
    beneficiaries, truth = [], []
    for index in range(first, min(first + BLOCKS_PER_PART, config.blocks)):
        block = generate_block(config, index)
        beneficiaries.extend(block.beneficiaries(config))
        truth.extend(case.as_dict() for case in block.truth)
    frames = frames_from_records(beneficiaries)
    records = linkage_input(frames)
    records.to_parquet(out / "records" / name, index=False)
    frames.enrolments[["subject_key", "programme_identifier"]].to_parquet(
        out / "enrolments" / name, index=False
    )
    pairs = [sorted(pair) for pair in truth_pairs(truth, "fuzzy_duplicate", frames)]
    truth_frame = pd.DataFrame(pairs, columns=["subject_key_l", "subject_key_r"])
    truth_frame.to_parquet(out / "truth" / f"{name}.partial", index=False)
    (out / "truth" / f"{name}.partial").rename(out / "truth" / name)
    print(f"part {first // BLOCKS_PER_PART + 1}: {len(records)} people to link", file=sys.stderr)
    return len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4_600_000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--country", default="KE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    config = GeneratorConfig(seed=args.seed, people=args.people, country=args.country)
    for table in ("records", "enrolments", "truth"):
        (args.out / table).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    firsts = range(0, config.blocks, BLOCKS_PER_PART)
    with ProcessPoolExecutor(args.workers) as pool:
        linked = sum(pool.map(write_part, [config] * len(firsts), firsts, [args.out] * len(firsts)))
    report = {
        "people_generated": args.people,
        "people_to_link": linked,
        "seconds": round(time.perf_counter() - started, 1),
        "out": str(args.out),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
