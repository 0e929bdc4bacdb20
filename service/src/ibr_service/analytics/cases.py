"""Overlap cases in the database: recorded by a recompute or a batch check, decided by a person.

A case keeps its decision across recomputes (its id is a hash of the identity and the two
enrolments). Deciding a case writes the decision on the case and an entry in the hash-chained
audit log (``overlap_case.<decision>``; no personal data: the subject is the case id) in one
unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.analytics.overlaps import detect_overlaps
from ibr_service.analytics.overlaps_sql import detect_overlaps_in_database
from ibr_service.analytics.overlaps_touched import overlaps_of_touched
from ibr_service.analytics.rules import ProgrammeRules
from ibr_service.core.audit import append_audit
from ibr_service.core.batch_checks import Conflict
from ibr_service.core.store import StoreTransaction
from ibr_service.store_sql import SqlStore
from ibr_service.store_sql.analytics_tables import overlap_cases
from ibr_service.store_sql.store import SqlTransaction

__all__ = [
    "DECISIONS",
    "OverlapCheck",
    "check_batch",
    "decide_case",
    "list_cases",
    "overlap_rows",
    "recompute_overlaps",
    "record_overlaps",
]

DECISIONS = ("confirmed", "false_positive", "exempted")
_EVIDENCE = ("record_a", "record_b", "status_a", "status_b", "concurrent", "reason")
_EVIDENCE_DATES = ("enrolment_date_a", "enrolment_date_b")
_CASE_KEYS = (
    "case_id", "unit", "identity_key", "programme_a", "programme_b", "enrolment_key_a",
    "enrolment_key_b",
)  # fmt: skip


def overlap_rows(overlaps: pd.DataFrame) -> list[dict[str, Any]]:
    """Overlaps found on frames or by a recompute as the plain rows ``_record`` stores (dates
    as ISO text), the form the one-query batch check gives."""
    rows: list[dict[str, Any]] = overlaps.to_dict("records")
    for row in rows:
        row["concurrent"] = bool(row["concurrent"])
        for key in _EVIDENCE_DATES:
            row[key] = None if pd.isna(row[key]) else pd.Timestamp(row[key]).date().isoformat()
    return rows


def record_overlaps(store: SqlStore, overlaps: pd.DataFrame, now: datetime) -> list[str]:
    """Store the overlaps found; the ids of those that were not known before (new conflicts)."""
    with store.transaction() as tx:
        fresh = _record(tx.connection, overlap_rows(overlaps), now)
    return [row["case_id"] for row in fresh]


def _record(
    connection: sa.Connection, overlaps: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Insert the overlaps not known yet, touch the others; the new ones."""
    ids = [row["case_id"] for row in overlaps]
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = sa.select(overlap_cases.c.case_id).where(overlap_cases.c.case_id.in_(chunk))
        known |= set(connection.execute(query).scalars())
    fresh = [row for row in overlaps if row["case_id"] not in known]
    if known:
        connection.execute(
            overlap_cases.update()
            .where(overlap_cases.c.case_id.in_(sa.bindparam("ids", expanding=True)))
            .values(last_seen_at=now),
            {"ids": sorted(known)},
        )
    rows = [
        {
            **{key: row[key] for key in _CASE_KEYS},
            "evidence": {key: row[key] for key in _EVIDENCE + _EVIDENCE_DATES},
            "status": "open",
            "detected_at": now,
            "last_seen_at": now,
        }
        for row in fresh
    ]
    if rows:
        connection.execute(overlap_cases.insert(), rows)
    return fresh


def recompute_overlaps(store: SqlStore, rules: ProgrammeRules, now: datetime) -> list[str]:
    """Full recompute over the whole registry (joined in the database); the new cases' ids."""
    return record_overlaps(store, detect_overlaps_in_database(store.engine, rules), now)


def check_batch(
    store: SqlStore,
    subject_keys: Iterable[str],
    rules: ProgrammeRules,
    now: datetime,
    frames: RegistryFrames | None = None,
) -> list[str]:
    """Incremental check of the subjects an ingested batch touched (one query, or on
    ``frames`` when given); the new cases' ids."""
    keys = set(subject_keys)
    if frames is not None:
        return record_overlaps(store, detect_overlaps(frames, rules, subject_keys=keys), now)
    with store.transaction() as tx:
        found = overlaps_of_touched(tx.connection, rules, keys)
        return [row["case_id"] for row in _record(tx.connection, found, now)]


class OverlapCheck:
    """The incremental overlap check as a batch check of the core (`IbrCore(batch_checks=...)`):
    run in the batch's own transaction (one query over the enrolments it wrote), it records
    the new cases with the batch."""

    def __init__(self, rules: ProgrammeRules) -> None:
        self.rules = rules

    def __call__(
        self, tx: StoreTransaction, enrolment_keys: frozenset[str], now: datetime
    ) -> list[Conflict]:
        if not isinstance(tx, SqlTransaction):
            raise TypeError("the overlap check needs the SQL store")  # a host wiring mistake
        found = overlaps_of_touched(tx.connection, self.rules, enrolment_keys, "enrolments")
        return [
            Conflict(
                case_id=str(row["case_id"]),
                enrolment_keys=frozenset((row["enrolment_key_a"], row["enrolment_key_b"])),
                programmes=frozenset((row["programme_a"], row["programme_b"])),
            )
            for row in _record(tx.connection, found, now)
        ]


def decide_case(
    store: SqlStore, case_id: str, decision: str, *, actor: str, now: datetime, note: str = ""
) -> dict[str, Any]:
    """Record ``decision`` on a case and audit it; the case as it now is."""
    if decision not in DECISIONS:
        raise AnalyticsError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    with store.transaction() as tx:
        query = sa.select(overlap_cases).where(overlap_cases.c.case_id == case_id)
        row = tx.connection.execute(query).mappings().first()
        if row is None:
            raise AnalyticsError(f"no overlap case {case_id!r}")
        tx.connection.execute(
            overlap_cases.update()
            .where(overlap_cases.c.case_id == case_id)
            .values(status=decision, decided_at=now, decided_by=actor, note=note or None)
        )
        append_audit(
            tx,
            at=now,
            actor=actor,
            action=f"overlap_case.{decision}",
            subject=case_id,
            detail={
                "previous_status": row["status"],
                "programmes": [row["programme_a"], row["programme_b"]],
                "unit": row["unit"],
                "with_note": bool(note),
            },
        )
        return {**dict(row), "status": decision, "decided_by": actor, "note": note or None}


def list_cases(
    store: SqlStore, *, status: str | None = None, programmes: set[str] | None = None
) -> pd.DataFrame:
    """Cases, optionally of one status and only between ``programmes`` (a read scope)."""
    query = sa.select(overlap_cases).order_by(overlap_cases.c.case_id)
    if status is not None:
        query = query.where(overlap_cases.c.status == status)
    if programmes is not None:
        allowed = sorted(programmes)
        query = query.where(
            overlap_cases.c.programme_a.in_(allowed), overlap_cases.c.programme_b.in_(allowed)
        )
    with store.engine.connect() as connection:
        return pd.DataFrame(connection.execute(query).mappings().all(), columns=[
            c.name for c in overlap_cases.columns
        ])  # fmt: skip
