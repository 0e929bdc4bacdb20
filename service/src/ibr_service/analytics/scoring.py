"""Detections scored against a mock_data truth file: precision, recall and F1 per kind.

Truth cases name programme record ids (``beneficiary_programme_id``); detections are turned into
unordered record pairs (overlaps, exact duplicates) or subject pairs (fuzzy duplicates: the
registry holds a fuzzy record as its own subject, so the pair is that of the two subjects).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import RegistryFrames

__all__ = ["Score", "load_truth", "score_pairs", "truth_pairs"]

Pair = frozenset[str]


@dataclass(frozen=True)
class Score:
    kind: str
    expected: int
    found: int
    true_positives: int
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_truth(path: Path) -> list[dict[str, Any]]:
    """The cases of a ``truth.jsonl`` file written by ``ibr-mock generate``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except OSError as error:
        raise AnalyticsError(f"cannot read truth file {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise AnalyticsError(f"{path}: not a truth file (line {error.lineno})") from None


def truth_pairs(
    truth: Iterable[dict[str, Any]], kind: str, frames: RegistryFrames | None = None
) -> set[Pair]:
    """Record pairs of one kind; with ``frames``, fuzzy pairs become subject pairs."""
    pairs: set[Pair] = set()
    for case in truth:
        if case.get("kind") != kind:
            continue
        records = [str(r) for r in case.get("records", [])]
        if kind == "cross_programme_overlap":  # every earlier record conflicts with the last
            pairs.update(frozenset((r, records[-1])) for r in records[:-1])
        else:
            pairs.add(frozenset(records[:2]))
    if frames is not None:
        subject_of = frames.enrolments.set_index("beneficiary_programme_id")["subject_key"]
        subject_of = subject_of[~subject_of.index.duplicated()]
        pairs = {frozenset(str(subject_of.get(r, r)) for r in pair) for pair in pairs}
    return pairs


def pairs_of(frame: pd.DataFrame, left: str, right: str) -> set[Pair]:
    return {frozenset((str(a), str(b))) for a, b in zip(frame[left], frame[right], strict=True)}


def score_pairs(kind: str, expected: set[Pair], found: set[Pair]) -> Score:
    hits = len(expected & found)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(expected) if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(kind, len(expected), len(found), hits, precision, recall, f1)
