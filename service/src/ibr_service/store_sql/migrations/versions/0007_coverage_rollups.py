"""analytics: coverage rollups kept on ingest

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAMP = sa.DateTime(timezone=True)


def _cell() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("programme", sa.String(200), nullable=False),
        sa.Column("area_level", sa.SmallInteger(), nullable=False, comment="1 (region) to 4"),
        sa.Column(
            "area", sa.String(100), nullable=False,
            comment="area code at that level, or unknown",
        ),
        sa.Column("sex", sa.String(20), nullable=False),
        sa.Column("age_band", sa.String(10), nullable=False, comment="as of the state's as_of"),
    ]  # fmt: skip


_CELL = ["programme", "area_level", "area", "sex", "age_band"]


def upgrade() -> None:
    op.create_table(
        "coverage_contributions",
        sa.Column("unit", sa.String(10), nullable=False, comment="person or household"),
        sa.Column(
            "owner_key", sa.String(300), nullable=False,
            comment="the person, or the household (group)",
        ),
        *_cell(),
        sa.PrimaryKeyConstraint(
            "unit", "owner_key", *_CELL, name=op.f("pk_coverage_contributions")
        ),
        comment="the coverage cells each person and household is counted in (active enrolments)",
    )  # fmt: skip
    op.create_table(
        "coverage_rollups",
        *_cell(),
        sa.Column("beneficiaries", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_CELL, name=op.f("pk_coverage_rollups")),
        comment="active beneficiaries and households per cell, kept by every ingested batch",
    )
    op.create_table(
        "coverage_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False, comment="always 1"),
        sa.Column(
            "as_of", sa.Date(), nullable=False, comment="the day the age bands are computed for"
        ),
        sa.Column("built_at", _STAMP, nullable=False),
        sa.Column("updated_at", _STAMP, nullable=False),
        sa.Column(
            "enrolments_seen", _STAMP, nullable=True,
            comment="latest enrolments.updated_at accounted for",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_rollup_state")),
        comment="whether coverage rollups exist, the day they are as of, and how fresh they are",
    )  # fmt: skip
    op.create_index("ix_enrolments_updated_at", "enrolments", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_enrolments_updated_at", table_name="enrolments")
    op.drop_table("coverage_rollup_state")
    op.drop_table("coverage_rollups")
    op.drop_table("coverage_contributions")
