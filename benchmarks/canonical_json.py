"""Canonical JSON (RFC 8785): ibr_protocol.canonical_json (orjson fast path) vs `rfc8785`.

The signed payload of every request and response is canonicalised once to sign it and once to
verify it. Prints one JSON object: for each payload (the spec's enrolled request, search
response, and an enrollment-updates batch of --batch sample beneficiaries) the calls/s of the
reference `rfc8785.dumps` (the baseline, measured in the same run), of `canonical_json`, their
ratio, and whether the bytes are identical.

    .venv/bin/python benchmarks/canonical_json.py --seconds 1 --batch 1000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rfc8785

from ibr_protocol.canonical_json import canonical_json
from ibr_service.core.samples import enrollment_message, person_beneficiary

EXAMPLES = Path(__file__).resolve().parents[1] / "spec" / "examples" / "valid"


def calls_per_second(function: Callable[[Any], bytes], value: Any, seconds: float) -> float:
    calls, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(10):
            function(value)
        calls += 10
    return calls / (time.perf_counter() - started)


def payloads(batch: int) -> dict[str, Any]:
    def example(name: str) -> Any:
        envelope = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
        return {"header": envelope["header"], "message": envelope["message"]}

    people = [person_beneficiary(f"{i:09d}") for i in range(batch)]
    return {
        "enrolled_request": example("post_reg_enrolled/envelope_enrolled_request.json"),
        "search_response": example("post_reg_sync_search/envelope_search_response.json"),
        f"enrollment_updates_{batch}": {"header": {}, "message": enrollment_message(people)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--batch", type=int, default=1000, help="beneficiaries in the batch")
    args = parser.parse_args()

    results = {}
    for name, value in payloads(args.batch).items():
        reference = calls_per_second(rfc8785.dumps, value, args.seconds)
        fast = calls_per_second(canonical_json, value, args.seconds)
        results[name] = {
            "bytes": len(rfc8785.dumps(value)),
            "identical": canonical_json(value) == rfc8785.dumps(value),
            "rfc8785_per_s": round(reference, 1),
            "canonical_json_per_s": round(fast, 1),
            "ratio_to_rfc8785": round(fast / reference, 2),
        }
    print(
        json.dumps(
            {
                "benchmark": "canonical_json",
                "cores": os.cpu_count(),
                "payloads": results,
                "goals": {
                    "note": "issue 15: canonicalisation must stop dominating a signature check; "
                    "the serving goals (>= 2,000 signed enrolled checks/s) need it well under "
                    "0.5 ms per request"
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
