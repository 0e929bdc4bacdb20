"""initial schema: registry data, processes, outbox, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """initial schema: registry data, processes, outbox, audit"""

    op.create_table(
        "audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "at",
            sa.String(length=40),
            nullable=False,
            comment="ISO 8601 text, hashed exactly as stored",
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "benefits",
        sa.Column("subject_key", sa.String(length=300), nullable=False),
        sa.Column("enrolment_key", sa.String(length=520), nullable=False),
        sa.Column("benefit_key", sa.String(length=200), nullable=False),
        sa.Column("benefit_type", sa.String(length=20), nullable=True),
        sa.Column("benefit_date", sa.Date(), nullable=True),
        sa.Column(
            "amount", sa.String(length=40), nullable=True, comment="decimal string, as on the wire"
        ),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "subject_key", "enrolment_key", "benefit_key", name=op.f("pk_benefits")
        ),
    )
    op.create_table(
        "clients",
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=300), nullable=False),
        sa.Column(
            "public_jwks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "allowed_callback_hosts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "allowed_programmes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
            comment="null = every programme",
        ),
        sa.Column("allow_private_callbacks", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_clients")),
    )
    op.create_table(
        "enrolment_status_history",
        sa.Column("subject_key", sa.String(length=300), nullable=False),
        sa.Column(
            "change_id",
            sa.String(length=40),
            nullable=False,
            comment="uuid; with subject_key, the key",
        ),
        sa.Column("enrolment_key", sa.String(length=520), nullable=False),
        sa.Column("enrolment_status", sa.String(length=20), nullable=False),
        sa.Column("status_change_date", sa.Date(), nullable=True),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint(
            "subject_key", "change_id", name=op.f("pk_enrolment_status_history")
        ),
    )
    with op.batch_alter_table("enrolment_status_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrolment_status_history_enrolment_key", ["enrolment_key"], unique=False
        )

    op.create_table(
        "enrolments",
        sa.Column("subject_key", sa.String(length=300), nullable=False),
        sa.Column(
            "enrolment_key",
            sa.String(length=520),
            nullable=False,
            comment="<subject_key>|<programme>",
        ),
        sa.Column("programme_identifier", sa.String(length=200), nullable=False),
        sa.Column("enrolment_status", sa.String(length=20), nullable=False),
        sa.Column("enrolment_date", sa.Date(), nullable=True),
        sa.Column("status_change_date", sa.Date(), nullable=True),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("beneficiary_programme_id", sa.String(length=200), nullable=True),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "enrolment_key", name=op.f("pk_enrolments")),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index("ix_enrolments_enrolment_key", ["enrolment_key"], unique=False)
        batch_op.create_index(
            "ix_enrolments_programme_status",
            ["programme_identifier", "enrolment_status"],
            unique=False,
        )

    op.create_table(
        "identifiers",
        sa.Column("subject_key", sa.String(length=300), nullable=False),
        sa.Column("identifier_type", sa.String(length=100), nullable=False),
        sa.Column("identifier_value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint(
            "subject_key", "identifier_type", "identifier_value", name=op.f("pk_identifiers")
        ),
    )
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identifiers_value_type", ["identifier_value", "identifier_type"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("subject_key", sa.String(length=300), nullable=False, comment="the group"),
        sa.Column(
            "member_key",
            sa.String(length=300),
            nullable=False,
            comment="a person in the group's member_list",
        ),
        sa.PrimaryKeyConstraint("subject_key", "member_key", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index("ix_memberships_member_key", ["member_key"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("dedupe_key", sa.String(length=300), nullable=False),
        sa.Column("correlation_id", sa.String(length=99), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("target_url", sa.String(length=2000), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_correlation_id", ["correlation_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_status_next_attempt", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "programmes",
        sa.Column("programme_identifier", sa.String(length=200), nullable=False),
        sa.Column("programme_name", sa.String(length=500), nullable=True),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_identifier", name=op.f("pk_programmes")),
    )
    op.create_table(
        "seen_messages",
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=99), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", "message_id", name=op.f("pk_seen_messages")),
    )
    with op.batch_alter_table("seen_messages", schema=None) as batch_op:
        batch_op.create_index("ix_seen_messages_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=200), nullable=False),
        sa.Column(
            "private_jwk",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "subjects",
        sa.Column(
            "subject_key",
            sa.String(length=300),
            nullable=False,
            comment="p:/g:<id type>:<id value>, national ID first",
        ),
        sa.Column("kind", sa.String(length=10), nullable=False, comment="person or group"),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("surname", sa.String(length=200), nullable=True),
        sa.Column("sex", sa.String(length=20), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("group_type", sa.String(length=20), nullable=True),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("poverty_score", sa.Float(), nullable=True),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="canonical Member or Group as last received",
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_key", name=op.f("pk_subjects")),
    )
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.create_index("ix_subjects_birth_date", ["birth_date"], unique=False)
        batch_op.create_index(
            "ix_subjects_surname_given_name", ["surname", "given_name"], unique=False
        )

    op.create_table(
        "subscriptions",
        sa.Column("code", sa.String(length=99), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("callback_uri", sa.String(length=2000), nullable=False),
        sa.Column("reg_event_type", sa.String(length=100), nullable=False),
        sa.Column(
            "filter",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("notify_record_type", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_event_status", ["reg_event_type", "status"], unique=False
        )

    op.create_table(
        "transaction_references",
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("reference_id", sa.String(length=99), nullable=False),
        sa.Column("correlation_id", sa.String(length=99), nullable=False),
        sa.PrimaryKeyConstraint(
            "sender_id", "reference_id", "correlation_id", name=op.f("pk_transaction_references")
        ),
    )
    op.create_table(
        "transactions",
        sa.Column("correlation_id", sa.String(length=99), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=99), nullable=False),
        sa.Column("transaction_id", sa.String(length=99), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("correlation_id", name=op.f("pk_transactions")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transactions_sender_transaction", ["sender_id", "transaction_id"], unique=False
        )
        batch_op.create_index(
            "ix_transactions_status_created", ["status", "created_at"], unique=False
        )


def downgrade() -> None:
    """Undo: initial schema: registry data, processes, outbox, audit"""

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_status_created")
        batch_op.drop_index("ix_transactions_sender_transaction")

    op.drop_table("transactions")
    op.drop_table("transaction_references")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_event_status")

    op.drop_table("subscriptions")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_index("ix_subjects_surname_given_name")
        batch_op.drop_index("ix_subjects_birth_date")

    op.drop_table("subjects")
    op.drop_table("signing_keys")
    with op.batch_alter_table("seen_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_seen_messages_expires_at")

    op.drop_table("seen_messages")
    op.drop_table("programmes")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt")
        batch_op.drop_index("ix_outbox_correlation_id")

    op.drop_table("outbox")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_member_key")

    op.drop_table("memberships")
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_identifiers_value_type")

    op.drop_table("identifiers")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrolments_programme_status")
        batch_op.drop_index("ix_enrolments_enrolment_key")

    op.drop_table("enrolments")
    with op.batch_alter_table("enrolment_status_history", schema=None) as batch_op:
        batch_op.drop_index("ix_enrolment_status_history_enrolment_key")

    op.drop_table("enrolment_status_history")
    op.drop_table("clients")
    op.drop_table("benefits")
    op.drop_table("audit_log")
