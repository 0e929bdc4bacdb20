"""client read scope, purposes, signature policy and callback base URL

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Existing clients read their own programmes (all of them when they may write any) and keep
    the strict signature policy: the safe side, as for a new client."""
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "read_programmes",
                _JSON,
                nullable=False,
                server_default=sa.text("'\"own\"'"),
                comment='"own", "all" or a list',
            )
        )
        batch_op.add_column(
            sa.Column("read_areas", _JSON, nullable=True, comment="null = no area restriction")
        )
        batch_op.add_column(
            sa.Column("purposes", _JSON, nullable=True, comment="null = any purpose")
        )
        batch_op.add_column(
            sa.Column(
                "signature_policy",
                sa.String(length=20),
                nullable=False,
                server_default="required",
                comment="required or optional",
            )
        )
        batch_op.add_column(
            sa.Column(
                "callback_base_url",
                sa.String(length=2000),
                nullable=True,
                comment="used when sender_uri is absent",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        for column in (
            "callback_base_url",
            "signature_policy",
            "purposes",
            "read_areas",
            "read_programmes",
        ):
            batch_op.drop_column(column)
