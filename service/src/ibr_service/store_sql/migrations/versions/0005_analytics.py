"""analytics: overlap cases

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "overlap_cases",
        sa.Column(
            "case_id", sa.String(40), nullable=False,
            comment="OV- + hash of identity and records",
        ),
        sa.Column("unit", sa.String(20), nullable=False, comment="person or household"),
        sa.Column(
            "identity_key", sa.String(300), nullable=False, comment="the subject or household"
        ),
        sa.Column("programme_a", sa.String(200), nullable=False),
        sa.Column("programme_b", sa.String(200), nullable=False),
        sa.Column("enrolment_key_a", sa.String(800), nullable=False),
        sa.Column("enrolment_key_b", sa.String(800), nullable=False),
        sa.Column(
            "evidence", _JSON, nullable=False, comment="records, statuses, dates, rule"
        ),
        sa.Column(
            "status", sa.String(20), nullable=False,
            comment="open, confirmed, false_positive, exempted",
        ),
        sa.Column("detected_at", _STAMP, nullable=False),
        sa.Column("last_seen_at", _STAMP, nullable=False),
        sa.Column("decided_at", _STAMP, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_overlap_cases")),
        comment="cross-programme overlaps found by ibr_service.analytics",
    )  # fmt: skip
    op.create_index("ix_overlap_cases_identity_key", "overlap_cases", ["identity_key"])
    op.create_index("ix_overlap_cases_status", "overlap_cases", ["status"])


def downgrade() -> None:
    op.drop_index("ix_overlap_cases_status", table_name="overlap_cases")
    op.drop_index("ix_overlap_cases_identity_key", table_name="overlap_cases")
    op.drop_table("overlap_cases")
