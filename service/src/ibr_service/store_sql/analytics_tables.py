"""Tables of ibr_service.analytics, on the registry's ``metadata`` (migration 0005_analytics).

``overlap_cases``: one row per cross-programme overlap found, kept across recomputes so that a
decision (confirmed, false positive, exempted) survives; every decision is also an entry of the
hash-chained audit log.

Coverage rollups (migration 0007_coverage_rollups, ``analytics/rollups.py``):
``coverage_contributions`` holds what each person and household adds to the coverage cells (one
row per distinct cell it is counted in), so that a batch can take back a subject's old
contribution and add its new one; ``coverage_rollups`` holds the sums per cell;
``coverage_rollup_state`` the date the age bands are as of and the freshness watermark.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, SmallInteger, String, Table, Text

from ibr_service.store_sql.tables import AreaCode, Json, Key, Stamp, metadata

__all__ = [
    "coverage_contributions",
    "coverage_rollup_state",
    "coverage_rollups",
    "overlap_cases",
]

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


def _cell_columns() -> list[Column]:  # type: ignore[type-arg]
    return [
        Column("programme", String(200), primary_key=True),
        Column("area_level", SmallInteger, primary_key=True, comment="1 (region) to 4"),
        Column("area", AreaCode, primary_key=True, comment="area code at that level, or unknown"),
        Column("sex", String(20), primary_key=True),
        Column("age_band", String(10), primary_key=True, comment="as of the state's as_of"),
    ]


coverage_contributions = Table(
    "coverage_contributions",
    metadata,
    Column("unit", String(10), primary_key=True, comment="person or household"),
    Column("owner_key", Key, primary_key=True, comment="the person, or the household (group)"),
    *_cell_columns(),
    comment="the coverage cells each person and household is counted in (active enrolments)",
)

coverage_rollups = Table(
    "coverage_rollups",
    metadata,
    *_cell_columns(),
    Column("beneficiaries", Integer, nullable=False),
    Column("households", Integer, nullable=False),
    comment="active beneficiaries and households per cell, kept by every ingested batch",
)

coverage_rollup_state = Table(
    "coverage_rollup_state",
    metadata,
    Column("id", Integer, primary_key=True, comment="always 1"),
    Column("as_of", Date, nullable=False, comment="the day the age bands are computed for"),
    Column("built_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("enrolments_seen", Stamp, comment="latest enrolments.updated_at accounted for"),
    comment="whether coverage rollups exist, the day they are as of, and how fresh they are",
)
