"""The SQL schema (SQLAlchemy 2 Core tables), the single source the migrations are checked against.

Every table that holds registry data leads its primary key with `subject_key` so that it can be
distributed (Citus) by that column with all of a subject's rows co-located; see
docs/storage-and-distribution.md.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "areas",
    "audit_log",
    "benefit_history",
    "benefits",
    "clients",
    "enrolment_status_history",
    "enrolments",
    "identifiers",
    "identity_cases",
    "memberships",
    "metadata",
    "outbox",
    "programmes",
    "seen_messages",
    "signing_keys",
    "source_records",
    "subject_area_history",
    "subjects",
    "subscriptions",
    "transaction_references",
    "transactions",
]

# Deterministic constraint names, so that migrations can alter them on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
Key = String(300)
Stamp = DateTime(timezone=True)
Money = Numeric(20, 4)
"""Amounts: exact decimals (never floats or strings); 4 places cover every ISO 4217 currency."""
AreaCode = String(100)


def _person_columns() -> list[Column]:  # type: ignore[type-arg]
    """The facts a subject row and a source record both hold (see docs/registry-model.md)."""
    return [
        Column("kind", String(10), nullable=False, comment="person or group"),
        Column("given_name", String(200)),
        Column("surname", String(200)),
        Column("sex", String(20)),
        Column("birth_date", Date),
        Column("death_date", Date),
        Column("group_type", String(20)),
        Column("group_size", Integer),
        Column("poverty_score", Float),
        Column("area_code", AreaCode, comment="the most specific area known"),
        Column("document", Json, nullable=False),
        Column("content_hash", String(64), nullable=False),
    ]


# --- registry data ----------------------------------------------------------------------

subjects = Table(
    "subjects",
    metadata,
    Column(
        "subject_key", Key, primary_key=True, comment="p:/g:<id type>:<id value>, national ID first"
    ),
    *_person_columns(),
    Column("area_level_1", AreaCode, comment="region"),
    Column("area_level_2", AreaCode, comment="district"),
    Column("area_level_3", AreaCode),
    Column("area_level_4", AreaCode),
    Column("last_updated", Date, comment="latest event date any source reported"),
    Column("death_reported_by", String(700), comment="source_key whose report makes it deceased"),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Index("ix_subjects_surname_given_name", "surname", "given_name"),
    Index("ix_subjects_birth_date", "birth_date"),
    Index("ix_subjects_area_level_1", "area_level_1"),
    Index("ix_subjects_area_level_2", "area_level_2"),
)

source_records = Table(
    "source_records",
    metadata,
    Column("subject_key", Key, primary_key=True),
    Column("source_key", String(700), primary_key=True, comment="sender|programme|record id"),
    Column("sender_id", String(200), nullable=False),
    Column("programme_identifier", String(200), nullable=False),
    Column("beneficiary_programme_id", String(200)),
    *_person_columns(),
    *(Column(f"area_level_{n}", AreaCode) for n in range(1, 5)),
    Column("event_date", Date, comment="the date the facts are as of"),
    Column("received_at", Stamp, nullable=False),
    Column(
        "identifier_checks",
        JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql"),
        comment="{type: passed} per identifier type with a check scheme sent (0008)",
    ),
    Index("ix_source_records_source_key", "source_key"),
)

identifiers = Table(
    "identifiers",
    metadata,
    Column("subject_key", Key, primary_key=True),
    Column("identifier_type", String(100), primary_key=True),
    Column("identifier_value", String(200), primary_key=True),
    Index("ix_identifiers_value_type", "identifier_value", "identifier_type"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("subject_key", Key, primary_key=True, comment="the group"),
    Column("member_key", Key, primary_key=True, comment="a person in the group's member_list"),
    Index("ix_memberships_member_key", "member_key"),
)

programmes = Table(
    "programmes",
    metadata,
    Column("programme_identifier", String(200), primary_key=True),
    Column("programme_name", String(500)),
    Column("document", Json, nullable=False),
    Column("updated_at", Stamp, nullable=False),
)

enrolments = Table(
    "enrolments",
    metadata,
    Column("subject_key", Key, primary_key=True),
    Column(
        "enrolment_key",
        String(800),
        primary_key=True,
        comment="<subject_key>|<programme>[|<beneficiary_programme_id>]",
    ),
    Column("programme_identifier", String(200), nullable=False),
    Column("enrolment_status", String(20), nullable=False),
    Column("enrolment_date", Date),
    Column("status_change_date", Date),
    Column("status_reason", String(500)),
    Column("beneficiary_programme_id", String(200)),
    Column("event_date", Date, comment="orders updates: status_change_date, else enrolment_date"),
    Column("source_key", String(700), nullable=False),
    Column("sender_id", String(200), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Index("ix_enrolments_programme_status", "programme_identifier", "enrolment_status"),
    Index("ix_enrolments_enrolment_key", "enrolment_key"),
    Index("ix_enrolments_programme_record", "programme_identifier", "beneficiary_programme_id"),
    Index("ix_enrolments_updated_at", "updated_at"),  # coverage rollups' freshness (0007)
)

enrolment_status_history = Table(
    "enrolment_status_history",
    metadata,
    Column("subject_key", Key, primary_key=True),
    Column("change_id", String(40), primary_key=True, comment="sorts in the order received"),
    Column("enrolment_key", String(800), nullable=False),
    Column("programme_identifier", String(200), nullable=False),
    Column("enrolment_status", String(20), nullable=False),
    Column("status_change_date", Date),
    Column("status_reason", String(500)),
    Column("enrolment_date", Date),
    Column("event_date", Date),
    Column("applied", Boolean, nullable=False, comment="false: stale, older than the stored state"),
    Column("recorded_at", Stamp, nullable=False),
    Column("sender_id", String(200), nullable=False),
    Index("ix_enrolment_status_history_enrolment_key", "enrolment_key"),
)

benefits = Table(
    "benefits",
    metadata,
    Column("subject_key", Key, primary_key=True),
    Column("enrolment_key", String(800), primary_key=True),
    Column("benefit_key", String(200), primary_key=True, comment="benefit_id, else ~<hash>"),
    Column("programme_identifier", String(200), nullable=False),
    Column("benefit_type", String(20)),
    Column("benefit_date", Date),
    Column("amount", Money),
    Column("currency", String(3)),
    Column("period_start", Date),
    Column("period_end", Date),
    Column("payment_status", String(10), comment="codes/payment_status; 4, 5 reverse it"),
    Column("disbursement_date", Date),
    Column("credited_amount", Money),
    Column("document", Json, nullable=False),
    Index("ix_benefits_programme_date", "programme_identifier", "benefit_date"),
)

benefit_history = Table(
    "benefit_history",
    metadata,
    Column("subject_key", Key, primary_key=True),
    Column("change_id", String(40), primary_key=True),
    Column("enrolment_key", String(800), nullable=False),
    Column("benefit_key", String(200), nullable=False),
    Column("change", String(20), nullable=False, comment="created, corrected, cancelled, reversed"),
    Column("amount", Money),
    Column("previous_amount", Money),
    Column("currency", String(3)),
    Column("payment_status", String(10)),
    Column("recorded_at", Stamp, nullable=False),
    Column("sender_id", String(200), nullable=False),
    Index("ix_benefit_history_enrolment_key", "enrolment_key"),
)

subject_area_history = Table(
    "subject_area_history",
    metadata,
    Column("subject_key", Key, primary_key=True),
    Column("change_id", String(40), primary_key=True),
    Column("area_code", AreaCode),
    Column("area_level_1", AreaCode),
    Column("area_level_2", AreaCode),
    Column("area_level_3", AreaCode),
    Column("area_level_4", AreaCode),
    Column("moved_on", Date),
    Column("recorded_at", Stamp, nullable=False),
    Column("source_key", String(700), nullable=False),
)

identity_cases = Table(
    "identity_cases",
    metadata,
    Column("case_id", String(40), primary_key=True),
    Column("kind", String(30), nullable=False, comment="identifier_conflict, demographic_clash"),
    Column("status", String(20), nullable=False, comment="open, merged, dismissed"),
    Column("subject_keys", Json, nullable=False),
    Column("identifier_type", String(100)),
    Column("identifier_value", String(200)),
    Column("evidence", Json, nullable=False),
    Column("sender_id", String(200), nullable=False),
    Column("programme_identifier", String(200)),
    Column("opened_at", Stamp, nullable=False),
    Column("decided_at", Stamp),
    Column("decided_by", String(200)),
    Column("note", Text),
    Index("ix_identity_cases_status", "status"),
)

areas = Table(
    "areas",
    metadata,
    Column("area_code", AreaCode, primary_key=True),
    Column("level", Integer, nullable=False, comment="1 region, 2 district, ..."),
    Column("name", String(200), nullable=False),
    Column("parent_code", AreaCode),
    Column("country_code", String(3)),
    Index("ix_areas_parent_code", "parent_code"),
)

# --- processes ----------------------------------------------------------------------------

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("code", String(99), primary_key=True),
    Column("sender_id", String(200), nullable=False),
    Column("callback_uri", String(2000), nullable=False),
    Column("reg_event_type", String(100), nullable=False),
    Column("filter", Json, nullable=False),
    Column("notify_record_type", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Index("ix_subscriptions_event_status", "reg_event_type", "status"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("correlation_id", String(99), primary_key=True),
    Column("sender_id", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("message_id", String(99), nullable=False),
    Column("transaction_id", String(99), nullable=False),
    Column("status", String(10), nullable=False),
    Column("request", Json, nullable=False),
    Column("response", Json),
    Column("error", Text),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Index("ix_transactions_sender_transaction", "sender_id", "transaction_id"),
    Index("ix_transactions_status_created", "status", "created_at"),
)

transaction_references = Table(
    "transaction_references",
    metadata,
    Column("sender_id", String(200), primary_key=True),
    Column("reference_id", String(99), primary_key=True),
    Column("correlation_id", String(99), primary_key=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("job_id", String(40), primary_key=True),
    Column("dedupe_key", String(300), nullable=False, unique=True),
    Column("correlation_id", String(99), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("sender_id", String(200), nullable=False),
    Column("target_url", String(2000), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Stamp, nullable=False),
    Column("lease_until", Stamp),
    Column("last_error", Text),
    Column("created_at", Stamp, nullable=False),
    Column("delivered_at", Stamp),
    Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
    Index("ix_outbox_correlation_id", "correlation_id"),
)

seen_messages = Table(
    "seen_messages",
    metadata,
    Column("sender_id", String(200), primary_key=True),
    Column("message_id", String(99), primary_key=True),
    Column("expires_at", Stamp, nullable=False),
    Index("ix_seen_messages_expires_at", "expires_at"),
)

clients = Table(
    "clients",
    metadata,
    Column("sender_id", String(200), primary_key=True),
    Column("secret_hash", String(300), nullable=False),
    Column("public_jwks", Json, nullable=False),
    Column("scopes", Json, nullable=False),
    Column("allowed_callback_hosts", Json, nullable=False),
    Column("allowed_programmes", Json, comment="null = every programme"),
    Column("allow_private_callbacks", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("callback_token_url", String(2000), comment="the SP-MIS token endpoint for callbacks"),
    Column("callback_client_id", String(200)),
    Column("callback_client_secret", String(500), comment="in clear: the IBR must present it"),
    Column("read_programmes", Json, nullable=False, comment='"own", "all" or a list'),
    Column("read_areas", Json, comment="null = no area restriction"),
    Column("purposes", Json, comment="null = any purpose"),
    Column("signature_policy", String(20), nullable=False, comment="required or optional"),
    Column("callback_base_url", String(2000), comment="used when sender_uri is absent"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(200), primary_key=True),
    Column("private_jwk", Json, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("retired_at", Stamp),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("at", String(40), nullable=False, comment="ISO 8601 text, hashed exactly as stored"),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("detail", Json, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)
