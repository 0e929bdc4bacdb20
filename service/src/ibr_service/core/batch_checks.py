"""Checks a host adds to every ingested batch (e.g. the analytics' overlap check).

A check runs inside the batch's unit of work, after the batch is written and before its answer
is recorded, so what it records (a case) commits or rolls back with the batch, and what it finds
reaches the SP-MIS in the per-item status of the items it concerns. A check never refuses an
item: an overlap is a fact to resolve, not a reason to lose a record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ibr_service.core.store import StoreTransaction

__all__ = ["REASON_OVERLAP_DETECTED", "BatchCheck", "Conflict"]

REASON_OVERLAP_DETECTED = "succ.overlap.detected"
"""Item status reason of an accepted item that opened an overlap case (IBR-REG-015)."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """A new overlap between two enrolments of one identity, recorded as case `case_id`."""

    case_id: str
    enrolment_keys: frozenset[str]
    programmes: frozenset[str]


class BatchCheck(Protocol):
    def __call__(
        self, tx: StoreTransaction, enrolment_keys: frozenset[str], now: datetime
    ) -> Sequence[Conflict]:
        """The new conflicts that the enrolments a batch created or changed take part in."""
        ...
