"""registry model: source records, histories, identity cases, areas, Decimal amounts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Keeps the data: every existing enrolment gets its event date and source key, and one source
record built from its subject row; the status history gets its programme and counts as applied;
benefit amounts become numbers (an amount that is not a decimal number becomes NULL); subjects
get their areas from the stored document's first address, and their last update date.
Enrolment keys keep their old form (`subject|programme`), a valid key of the new scheme.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_MONEY = sa.Numeric(precision=20, scale=4)
_AREA = sa.String(length=100)
_STAMP = sa.DateTime(timezone=True)
_AMOUNT = r"^\s*[+-]?([0-9]{1,16}(\.[0-9]*)?|\.[0-9]+)\s*$"
"""A decimal number that fits Numeric(20, 4); anything else was never an amount."""
_OLD_KEY = sa.String(length=520)
_KEY = sa.String(length=800)
_ENROLMENT_KEY_COMMENT = "<subject_key>|<programme>[|<beneficiary_programme_id>]"


def upgrade() -> None:
    _create_tables()
    _add_columns()
    _fill()
    _tighten()


# --- new tables ---------------------------------------------------------------------------


def _person_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("kind", sa.String(length=10), nullable=False, comment="person or group"),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("surname", sa.String(length=200), nullable=True),
        sa.Column("sex", sa.String(length=20), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("group_type", sa.String(length=20), nullable=True),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("poverty_score", sa.Float(), nullable=True),
        sa.Column("area_code", _AREA, nullable=True, comment="the most specific area known"),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
    ]


def _create_tables() -> None:
    op.create_table(
        "source_records",
        sa.Column("subject_key", sa.String(length=300), nullable=False),
        sa.Column(
            "source_key",
            sa.String(length=700),
            nullable=False,
            comment="sender|programme|record id",
        ),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("programme_identifier", sa.String(length=200), nullable=False),
        sa.Column("beneficiary_programme_id", sa.String(length=200), nullable=True),
        *_person_columns(),
        *(sa.Column(f"area_level_{n}", _AREA, nullable=True) for n in range(1, 5)),
        sa.Column("event_date", sa.Date(), nullable=True, comment="the date the facts are as of"),
        sa.Column("received_at", _STAMP, nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "source_key", name=op.f("pk_source_records")),
    )
    op.create_index("ix_source_records_source_key", "source_records", ["source_key"])
    op.create_table(
        "benefit_history",
        sa.Column("subject_key", sa.String(length=300), nullable=False),
        sa.Column("change_id", sa.String(length=40), nullable=False),
        sa.Column("enrolment_key", _KEY, nullable=False),
        sa.Column("benefit_key", sa.String(length=200), nullable=False),
        sa.Column(
            "change",
            sa.String(length=20),
            nullable=False,
            comment="created, corrected, cancelled, reversed",
        ),
        sa.Column("amount", _MONEY, nullable=True),
        sa.Column("previous_amount", _MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("payment_status", sa.String(length=10), nullable=True),
        sa.Column("recorded_at", _STAMP, nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "change_id", name=op.f("pk_benefit_history")),
    )
    op.create_index("ix_benefit_history_enrolment_key", "benefit_history", ["enrolment_key"])
    op.create_table(
        "subject_area_history",
        sa.Column("subject_key", sa.String(length=300), nullable=False),
        sa.Column("change_id", sa.String(length=40), nullable=False),
        sa.Column("area_code", _AREA, nullable=True),
        *(sa.Column(f"area_level_{n}", _AREA, nullable=True) for n in range(1, 5)),
        sa.Column("moved_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", _STAMP, nullable=False),
        sa.Column("source_key", sa.String(length=700), nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "change_id", name=op.f("pk_subject_area_history")),
    )
    op.create_table(
        "identity_cases",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=30),
            nullable=False,
            comment="identifier_conflict, demographic_clash",
        ),
        sa.Column(
            "status", sa.String(length=20), nullable=False, comment="open, merged, dismissed"
        ),
        sa.Column("subject_keys", _JSON, nullable=False),
        sa.Column("identifier_type", sa.String(length=100), nullable=True),
        sa.Column("identifier_value", sa.String(length=200), nullable=True),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("programme_identifier", sa.String(length=200), nullable=True),
        sa.Column("opened_at", _STAMP, nullable=False),
        sa.Column("decided_at", _STAMP, nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_identity_cases")),
    )
    op.create_index("ix_identity_cases_status", "identity_cases", ["status"])
    op.create_table(
        "areas",
        sa.Column("area_code", _AREA, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False, comment="1 region, 2 district, ..."),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_code", _AREA, nullable=True),
        sa.Column("country_code", sa.String(length=3), nullable=True),
        sa.PrimaryKeyConstraint("area_code", name=op.f("pk_areas")),
    )
    op.create_index("ix_areas_parent_code", "areas", ["parent_code"])


# --- new columns (nullable first; filled; then tightened) ---------------------------------


def _add_columns() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.add_column(
            sa.Column("area_code", _AREA, nullable=True, comment="the most specific area known")
        )
        batch.add_column(sa.Column("area_level_1", _AREA, nullable=True, comment="region"))
        batch.add_column(sa.Column("area_level_2", _AREA, nullable=True, comment="district"))
        batch.add_column(sa.Column("area_level_3", _AREA, nullable=True))
        batch.add_column(sa.Column("area_level_4", _AREA, nullable=True))
        batch.add_column(
            sa.Column(
                "last_updated",
                sa.Date(),
                nullable=True,
                comment="latest event date any source reported",
            )
        )
        batch.add_column(
            sa.Column(
                "death_reported_by",
                sa.String(length=700),
                nullable=True,
                comment="source_key whose report makes it deceased",
            )
        )
    with op.batch_alter_table("enrolments") as batch:
        batch.add_column(
            sa.Column(
                "event_date",
                sa.Date(),
                nullable=True,
                comment="orders updates: status_change_date, else enrolment_date",
            )
        )
        batch.add_column(sa.Column("source_key", sa.String(length=700), nullable=True))
    with op.batch_alter_table("enrolment_status_history") as batch:
        batch.add_column(sa.Column("programme_identifier", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("enrolment_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("event_date", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column(
                "applied",
                sa.Boolean(),
                nullable=True,
                comment="false: stale, older than the stored state",
            )
        )
    with op.batch_alter_table("benefits") as batch:
        batch.add_column(sa.Column("programme_identifier", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column(
                "payment_status",
                sa.String(length=10),
                nullable=True,
                comment="codes/payment_status; 4, 5 reverse it",
            )
        )
        batch.add_column(sa.Column("disbursement_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("credited_amount", _MONEY, nullable=True))


# --- the data -------------------------------------------------------------------------------


def _text(name: str) -> sa.ColumnClause:  # type: ignore[type-arg]
    """A column of the tables as they are during this migration (typed, so `||` concatenates)."""
    return sa.column(name, sa.String())


_subjects = sa.table(
    "subjects",
    *(
        _text(name)
        for name in (
            "subject_key",
            "kind",
            "given_name",
            "surname",
            "sex",
            "birth_date",
            "death_date",
            "group_type",
            "group_size",
            "poverty_score",
            "area_code",
            "document",
            "content_hash",
            "area_level_1",
            "area_level_2",
            "area_level_3",
            "area_level_4",
            "last_updated",
            "death_reported_by",
        )
    ),
)
_enrolments = sa.table(
    "enrolments",
    *(
        _text(name)
        for name in (
            "subject_key",
            "enrolment_key",
            "programme_identifier",
            "enrolment_status",
            "enrolment_date",
            "status_change_date",
            "beneficiary_programme_id",
            "event_date",
            "source_key",
            "sender_id",
            "updated_at",
        )
    ),
)
_memberships = sa.table("memberships", _text("subject_key"), _text("member_key"))
_history = sa.table(
    "enrolment_status_history",
    *(
        _text(name)
        for name in (
            "subject_key",
            "enrolment_key",
            "programme_identifier",
            "status_change_date",
            "enrolment_date",
            "event_date",
            "applied",
        )
    ),
)
_benefits = sa.table(
    "benefits",
    *(
        _text(name)
        for name in (
            "subject_key",
            "enrolment_key",
            "benefit_key",
            "programme_identifier",
            "amount",
        )
    ),
)
_SOURCE_COLUMNS = (
    "kind",
    "given_name",
    "surname",
    "sex",
    "birth_date",
    "death_date",
    "group_type",
    "group_size",
    "poverty_score",
    "area_code",
    "document",
    "content_hash",
    "area_level_1",
    "area_level_2",
    "area_level_3",
    "area_level_4",
)


def _fill() -> None:
    e, s = _enrolments.c, _subjects.c
    op.execute(
        _enrolments.update().values(
            event_date=sa.func.coalesce(e.status_change_date, e.enrolment_date),
            source_key=e.sender_id.concat("|")
            .concat(e.programme_identifier)
            .concat("|")
            .concat(
                sa.func.coalesce(e.beneficiary_programme_id, sa.literal("~").concat(e.subject_key))
            ),
        )
    )
    _fill_history()
    _fill_benefit_programmes()
    _fill_subject_areas()
    _fill_subject_dates()
    source_records = sa.table(
        "source_records",
        *(
            _text(name)
            for name in (
                "subject_key",
                "source_key",
                "sender_id",
                "programme_identifier",
                "beneficiary_programme_id",
                *_SOURCE_COLUMNS,
                "event_date",
                "received_at",
            )
        ),
    )
    op.execute(
        source_records.insert().from_select(
            [c.name for c in source_records.c],
            sa.select(
                e.subject_key,
                e.source_key,
                e.sender_id,
                e.programme_identifier,
                e.beneficiary_programme_id,
                *(s[name] for name in _SOURCE_COLUMNS),
                e.event_date,
                e.updated_at,
            ).select_from(_enrolments.join(_subjects, s.subject_key == e.subject_key)),
        )
    )


def _enrolment_of(table: sa.TableClause, column: str) -> sa.ScalarSelect:  # type: ignore[type-arg]
    """`column` of the enrolment a history or benefit row belongs to."""
    e = _enrolments.alias("e")
    return (
        sa.select(e.c[column])
        .where(e.c.subject_key == table.c.subject_key, e.c.enrolment_key == table.c.enrolment_key)
        .scalar_subquery()
    )


def _programme_of(table: sa.TableClause) -> sa.ColumnElement:  # type: ignore[type-arg]
    """The enrolment's programme; for an orphan row, the part of `subject|programme` after the
    subject key."""
    return sa.func.coalesce(
        _enrolment_of(table, "programme_identifier"),
        sa.func.substr(table.c.enrolment_key, sa.func.length(table.c.subject_key) + 2),
    )


def _fill_history() -> None:
    h = _history.c
    op.execute(
        _history.update().values(
            programme_identifier=_programme_of(_history),
            enrolment_date=_enrolment_of(_history, "enrolment_date"),
            # The old code stored status_change_date, else enrolment_date, as the change date.
            event_date=h.status_change_date,
            applied=sa.true(),
        )
    )


def _fill_benefit_programmes() -> None:
    op.execute(_benefits.update().values(programme_identifier=_programme_of(_benefits)))
    if op.get_bind().dialect.name == "postgresql":
        return  # the type change converts (`_tighten`)
    # SQLite: clear what is not a number before the column becomes numeric (it would keep text).
    b = _benefits.c
    bind = op.get_bind()
    # Streamed: only the (few) amounts to fix are held in memory.
    stored = bind.execute(
        sa.select(b.subject_key, b.enrolment_key, b.benefit_key, b.amount).where(
            b.amount.is_not(None)
        )
    )
    fixes = [
        {
            "s": row.subject_key,
            "e": row.enrolment_key,
            "k": row.benefit_key,
            "amount": str(Decimal(row.amount.strip())) if _is_amount(row.amount) else None,
        }
        for row in stored
        if not _is_amount(row.amount) or row.amount.strip() != row.amount
    ]
    if fixes:
        bind.execute(
            _benefits.update()
            .where(
                b.subject_key == sa.bindparam("s"),
                b.enrolment_key == sa.bindparam("e"),
                b.benefit_key == sa.bindparam("k"),
            )
            .values(amount=sa.bindparam("amount")),
            fixes,
        )


def _is_amount(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(_AMOUNT, value) is not None


def _fill_subject_areas() -> None:
    if op.get_bind().dialect.name == "postgresql":

        def address(field: str) -> str:
            return (
                "CASE WHEN kind = 'person' "
                f"THEN document #>> '{{demographic_info,address,0,{field}}}' "
                f"ELSE document #>> '{{address,0,{field}}}' END"
            )
    else:

        def address(field: str) -> str:
            return (
                "CASE WHEN kind = 'person' "
                f"THEN json_extract(document, '$.demographic_info.address[0].{field}') "
                f"ELSE json_extract(document, '$.address[0].{field}') END"
            )

    region, district = address("region_code"), address("sub_region_code")
    op.execute(
        "UPDATE subjects SET "  # noqa: S608 - our own column names, no input
        f"area_level_1 = substr({region}, 1, 100), "
        f"area_level_2 = substr({district}, 1, 100), "
        f"area_code = substr(coalesce({district}, {region}), 1, 100)"
    )


def _fill_subject_dates() -> None:
    s = _subjects.c
    e = _enrolments.alias("e")
    latest = (
        sa.select(sa.func.max(e.c.event_date))
        .where(e.c.subject_key == s.subject_key)
        .scalar_subquery()
    )
    op.execute(_subjects.update().values(last_updated=latest))
    # Members of a household were last updated when their household was.
    group = _subjects.alias("g")
    m = _memberships.alias("m")
    via_group = (
        sa.select(sa.func.max(group.c.last_updated))
        .select_from(m.join(group, group.c.subject_key == m.c.subject_key))
        .where(m.c.member_key == s.subject_key)
        .scalar_subquery()
    )
    op.execute(_subjects.update().where(s.last_updated.is_(None)).values(last_updated=via_group))

    def reporter(*conditions: sa.ColumnElement[bool]) -> sa.ScalarSelect:  # type: ignore[type-arg]
        return (
            sa.select(sa.func.min(e.c.source_key))
            .where(e.c.subject_key == s.subject_key, *conditions)
            .scalar_subquery()
        )

    # A death date, or a Deceased (2) enrolment, was reported by a source of the subject.
    op.execute(
        _subjects.update().where(s.death_date.is_not(None)).values(death_reported_by=reporter())
    )
    op.execute(
        _subjects.update()
        .where(s.death_reported_by.is_(None))
        .values(death_reported_by=reporter(e.c.enrolment_status == "2"))
    )


# --- constraints, types and indexes once the data is there ---------------------------------


def _tighten() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("subjects") as batch:
        if postgres:  # SQLite keeps no comments; altering one would copy the table
            batch.alter_column(
                "document",
                existing_type=_JSON,
                existing_nullable=False,
                comment=None,
                existing_comment="canonical Member or Group as last received",
            )
        batch.create_index("ix_subjects_area_level_1", ["area_level_1"])
        batch.create_index("ix_subjects_area_level_2", ["area_level_2"])
    with op.batch_alter_table("enrolments") as batch:
        batch.alter_column(
            "enrolment_key",
            type_=_KEY,
            existing_type=_OLD_KEY,
            existing_nullable=False,
            comment=_ENROLMENT_KEY_COMMENT,
            existing_comment="<subject_key>|<programme>",
        )
        batch.alter_column("source_key", existing_type=sa.String(length=700), nullable=False)
        batch.create_index(
            "ix_enrolments_programme_record", ["programme_identifier", "beneficiary_programme_id"]
        )
    with op.batch_alter_table("enrolment_status_history") as batch:
        batch.alter_column(
            "change_id",
            existing_type=sa.String(length=40),
            existing_nullable=False,
            comment="sorts in the order received",
            existing_comment="uuid; with subject_key, the key",
        )
        batch.alter_column(
            "enrolment_key", type_=_KEY, existing_type=_OLD_KEY, existing_nullable=False
        )
        batch.alter_column(
            "programme_identifier", existing_type=sa.String(length=200), nullable=False
        )
        batch.alter_column(
            "applied",
            existing_type=sa.Boolean(),
            nullable=False,
            existing_comment="false: stale, older than the stored state",
        )
    with op.batch_alter_table("benefits") as batch:
        batch.alter_column(
            "enrolment_key", type_=_KEY, existing_type=_OLD_KEY, existing_nullable=False
        )
        batch.alter_column(
            "benefit_key",
            existing_type=sa.String(length=200),
            existing_nullable=False,
            comment="benefit_id, else ~<hash>",
        )
        batch.alter_column(
            "programme_identifier", existing_type=sa.String(length=200), nullable=False
        )
        batch.alter_column(
            "amount",
            type_=_MONEY,
            existing_type=sa.String(length=40),
            existing_nullable=True,
            comment=None,
            existing_comment="decimal string, as on the wire",
            postgresql_using=(
                f"CASE WHEN amount ~ '{_AMOUNT}' THEN trim(amount)::numeric(20, 4) END"
                if postgres
                else None
            ),
        )
        batch.create_index("ix_benefits_programme_date", ["programme_identifier", "benefit_date"])


def downgrade() -> None:
    """Back to 0003's columns; new tables and facts are dropped (amounts become text again)."""
    with op.batch_alter_table("benefits") as batch:
        batch.drop_index("ix_benefits_programme_date")
        batch.alter_column(
            "amount",
            type_=sa.String(length=40),
            existing_type=_MONEY,
            comment="decimal string, as on the wire",
            postgresql_using="amount::text",
        )
        batch.alter_column("enrolment_key", type_=_OLD_KEY, existing_type=_KEY)
        for column in ("credited_amount", "disbursement_date", "payment_status"):
            batch.drop_column(column)
        batch.drop_column("programme_identifier")
    with op.batch_alter_table("enrolment_status_history") as batch:
        batch.alter_column("enrolment_key", type_=_OLD_KEY, existing_type=_KEY)
        for column in ("applied", "event_date", "enrolment_date", "programme_identifier"):
            batch.drop_column(column)
    with op.batch_alter_table("enrolments") as batch:
        batch.drop_index("ix_enrolments_programme_record")
        batch.alter_column(
            "enrolment_key",
            type_=_OLD_KEY,
            existing_type=_KEY,
            comment="<subject_key>|<programme>",
        )
        batch.drop_column("source_key")
        batch.drop_column("event_date")
    with op.batch_alter_table("subjects") as batch:
        batch.drop_index("ix_subjects_area_level_2")
        batch.drop_index("ix_subjects_area_level_1")
        for column in (
            "death_reported_by",
            "last_updated",
            "area_level_4",
            "area_level_3",
            "area_level_2",
            "area_level_1",
            "area_code",
        ):
            batch.drop_column(column)
    for table in ("areas", "identity_cases", "subject_area_history", "benefit_history"):
        op.drop_table(table)
    op.drop_table("source_records")
