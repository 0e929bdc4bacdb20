"""registry: each source record's identifier checks (data quality per feed)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

An identifier whose check digit fails is never linked, so the `identifiers` table cannot say
how many a feed sent; the source record (one per subject and feed record) now keeps which
checked types it sent and whether they passed. Rows written before stay NULL (not checked)
until their source sends them again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On PostgreSQL the parent of the hash partitions (0006): the partitions get it too.
    op.add_column(
        "source_records",
        sa.Column(
            "identifier_checks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            comment="{type: passed} per identifier type with a check scheme sent (0008)",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("source_records") as batch:
        batch.drop_column("identifier_checks")
