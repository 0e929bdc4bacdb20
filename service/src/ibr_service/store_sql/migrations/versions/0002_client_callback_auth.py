"""client callback auth: the SP-MIS token endpoint the outbox presents a bearer token from

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nullable columns: existing clients keep sending callbacks without a token."""
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "callback_token_url",
                sa.String(length=2000),
                nullable=True,
                comment="the SP-MIS token endpoint for callbacks",
            )
        )
        batch_op.add_column(sa.Column("callback_client_id", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "callback_client_secret",
                sa.String(length=500),
                nullable=True,
                comment="in clear: the IBR must present it",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("callback_client_secret")
        batch_op.drop_column("callback_client_id")
        batch_op.drop_column("callback_token_url")
