"""Where the server's threads spent their samples, from a py-spy raw profile (collapsed stacks).

    .venv/bin/python benchmarks/api_enrolled.py ... --profile /tmp/serve.spy
    .venv/bin/python benchmarks/pyspy_summary.py /tmp/serve.spy [--top 40]

Prints one JSON object: samples in total; `busy` (samples of threads not parked: a thread-pool
worker waiting for work, the event loop waiting in epoll), the share of the busy samples spent
inside each frame (inclusive), and the share spent waiting on PostgreSQL by the nearest IBR frame.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter

PARKED = {"Condition.wait", "EpollSelector.select", "_worker"}
DATABASE_WAIT = "Connection.wait"
_LINE = re.compile(r":\d+\)$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    total = busy = 0
    inclusive: Counter[str] = Counter()
    database: Counter[str] = Counter()
    with open(args.profile, encoding="utf-8") as lines:
        for line in lines:
            stack, _, count_text = line.rstrip().rpartition(" ")
            count = int(count_text)
            frames = [_LINE.sub(")", f) for f in stack.split(";")[2:]]  # minus process, thread
            total += count
            leaf = frames[-1].split(" ")[0] if frames else ""
            if leaf in PARKED:
                continue
            busy += count
            for frame in set(frames):
                inclusive[frame] += count
            if leaf == DATABASE_WAIT:
                ours = [f for f in frames if "ibr_service/" in f or "ibr_protocol/" in f]
                database[ours[-1] if ours else "(other)"] += count

    def shares(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / max(busy, 1), 1) for k, v in counter.most_common(args.top)}

    print(
        json.dumps(
            {
                "samples": total,
                "busy": busy,
                "busy_percent_inclusive": shares(inclusive),
                "database_wait_percent_by_ibr_frame": shares(database),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
