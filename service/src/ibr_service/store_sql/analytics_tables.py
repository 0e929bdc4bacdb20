"""Tables of ibr_service.analytics, on the registry's ``metadata`` (migration 0005_analytics).

``overlap_cases``: one row per cross-programme overlap found, kept across recomputes so that a
decision (confirmed, false positive, exempted) survives; every decision is also an entry of the
hash-chained audit log.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from ibr_service.store_sql.tables import Json, Key, Stamp, metadata

__all__ = ["overlap_cases"]

overlap_cases = Table(
    "overlap_cases",
    metadata,
    Column("case_id", String(40), primary_key=True, comment="OV- + hash of identity and records"),
    Column("unit", String(20), nullable=False, comment="person or household"),
    Column("identity_key", Key, nullable=False, comment="the subject or household"),
    Column("programme_a", String(200), nullable=False),
    Column("programme_b", String(200), nullable=False),
    Column("enrolment_key_a", String(800), nullable=False),
    Column("enrolment_key_b", String(800), nullable=False),
    Column("evidence", Json, nullable=False, comment="records, statuses, dates, rule"),
    Column(
        "status", String(20), nullable=False, comment="open, confirmed, false_positive, exempted"
    ),
    Column("detected_at", Stamp, nullable=False),
    Column("last_seen_at", Stamp, nullable=False),
    Column("decided_at", Stamp),
    Column("decided_by", String(200)),
    Column("note", Text),
    Index("ix_overlap_cases_identity_key", "identity_key"),
    Index("ix_overlap_cases_status", "status"),
    comment="cross-programme overlaps found by ibr_service.analytics",
)
