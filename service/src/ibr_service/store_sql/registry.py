"""The registry-data half of `SqlTransaction`: set-wise reads, `write_registry`, merges and splits.

Every method runs one statement per table per call (IN lists chunked for SQLite's parameter
limit); none loops over rows. The core decides every change (docs/registry-model.md); these
methods only read and write rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.schema import Table

from ibr_service.core.query import Expr, SortKey
from ibr_service.core.records import (
    AreaMove,
    AreaRecord,
    BenefitChange,
    BenefitRecord,
    EnrolmentRecord,
    IdentifierRecord,
    IdentityCase,
    ProgrammeRecord,
    RegistryWrite,
    StatusChange,
    StoredBeneficiary,
    SubjectKind,
    SubjectState,
)
from ibr_service.store_sql import rows
from ibr_service.store_sql.compile import compile_filter, compile_sort
from ibr_service.store_sql.tables import (
    areas,
    benefit_history,
    benefits,
    enrolment_status_history,
    enrolments,
    identifiers,
    identity_cases,
    memberships,
    metadata,
    programmes,
    source_records,
    subject_area_history,
    subjects,
)

if TYPE_CHECKING:
    from ibr_service.store_sql.store import SqlStore

__all__ = ["UPSERT_KEYS", "RegistryMethods"]

UPSERT_KEYS: dict[str, tuple[str, ...]] = {
    "subjects": ("subject_key",),
    "source_records": ("subject_key", "source_key"),
    "programmes": ("programme_identifier",),
    "enrolments": ("subject_key", "enrolment_key"),
    "benefits": ("subject_key", "enrolment_key", "benefit_key"),
    "identity_cases": ("case_id",),
    "areas": ("area_code",),
}
"""Tables written by upsert on these keys; the others (links, histories) insert-or-ignore."""
KEEP_ON_UPDATE = frozenset({"created_at"})
"""Columns an upsert leaves as first stored."""


class RegistryMethods:
    """Registry reads and writes of `SqlTransaction` (which provides the attributes below)."""

    connection: Connection
    store: SqlStore
    _dialect: str
    _chunk: int

    # --- statement helpers ----------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    def _upsert(self, table: Table, rows_: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
        if not rows_:
            return
        stmt = self._insert(table)
        updates = {
            c.name: stmt.excluded[c.name]
            for c in table.columns
            if c.name not in keys and c.name not in KEEP_ON_UPDATE
        }
        self.connection.execute(
            stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), rows_
        )

    def _insert_ignore(self, table: Table, rows_: Sequence[dict[str, Any]]) -> None:
        if rows_:
            self.connection.execute(self._insert(table).on_conflict_do_nothing(), rows_)

    def _chunks(self, values: Sequence[Any]) -> Iterator[list[Any]]:
        unique = sorted(set(values))
        for i in range(0, len(unique), self._chunk):
            yield unique[i : i + self._chunk]

    def _select_in(self, table: Table, column: str, values: Sequence[str]) -> Iterator[Any]:
        """Rows of `table` whose (text) `column` is among `values`, chunk by chunk."""
        for chunk in self._chunks(values):
            query = select(table).where(self._among(table.c[column], chunk))
            yield from self.connection.execute(query)

    def _among(self, column: ColumnElement[Any], values: list[str]) -> ColumnElement[bool]:
        if self._dialect == "postgresql":
            # One array parameter instead of one bound parameter per value: compiling thousands
            # of IN parameters cost more than running the query.
            any_value = func.any(bindparam(None, values, type_=ARRAY(String)))
            return column == any_value
        return column.in_(values)

    # --- reads the core's decisions need ----------------------------------------------------

    def subjects_by_identifiers(
        self, identifiers_: Sequence[IdentifierRecord]
    ) -> dict[IdentifierRecord, tuple[str, ...]]:
        wanted = set(identifiers_)
        found: dict[IdentifierRecord, set[str]] = {}
        values = [i.identifier_value for i in wanted]
        for r in self._select_in(identifiers, "identifier_value", values):
            record = IdentifierRecord(r.identifier_type, r.identifier_value)
            if record in wanted:
                found.setdefault(record, set()).add(r.subject_key)
        return {record: tuple(sorted(keys)) for record, keys in found.items()}

    def subjects_by_sources(self, source_keys: Sequence[str]) -> dict[str, str]:
        return {
            r.source_key: r.subject_key
            for r in self._select_in(source_records, "source_key", list(dict.fromkeys(source_keys)))
        }

    def load_subject_states(self, subject_keys: Sequence[str]) -> dict[str, SubjectState]:
        found = self._load_subjects(subject_keys)
        sources: dict[str, list[Any]] = {}
        for r in self._select_in(source_records, "subject_key", subject_keys):
            sources.setdefault(r.subject_key, []).append(r)
        return {
            key: SubjectState(
                subject,
                tuple(
                    rows.source(r._mapping)
                    for r in sorted(sources.get(key, ()), key=_received_order)
                ),
            )
            for key, subject in found.items()
        }

    def _load_subjects(self, subject_keys: Sequence[str]) -> dict[str, Any]:
        """Subject records (with identifiers and members) by key, for the keys that exist."""
        ids: dict[str, list[IdentifierRecord]] = {}
        for r in self._select_in(identifiers, "subject_key", subject_keys):
            ids.setdefault(r.subject_key, []).append(
                IdentifierRecord(r.identifier_type, r.identifier_value)
            )
        members: dict[str, list[str]] = {}
        for r in self._select_in(memberships, "subject_key", subject_keys):
            members.setdefault(r.subject_key, []).append(r.member_key)
        return {
            r.subject_key: rows.subject(
                r._mapping,
                tuple(sorted(ids.get(r.subject_key, ()), key=_identifier_order)),
                tuple(sorted(members.get(r.subject_key, ()))),
            )
            for r in self._select_in(subjects, "subject_key", subject_keys)
        }

    def load_enrolments(self, enrolment_keys: Sequence[str]) -> dict[str, EnrolmentRecord]:
        return {
            r.enrolment_key: rows.enrolment(r._mapping)
            for r in self._select_in(enrolments, "enrolment_key", enrolment_keys)
        }

    def load_benefits(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], BenefitRecord]:
        wanted = set(keys)
        found = {}
        for r in self._select_in(benefits, "enrolment_key", [k for k, _ in wanted]):
            if (r.enrolment_key, r.benefit_key) in wanted:
                found[(r.enrolment_key, r.benefit_key)] = rows.benefit(r._mapping)
        return found

    # --- the write ------------------------------------------------------------------------

    def write_registry(self, write: RegistryWrite) -> None:
        if write.is_empty():
            return
        batch = rows.registry_rows(write, datetime.now(UTC))
        if self.store.is_postgresql and batch.count() >= self.store.bulk_threshold:
            from ibr_service.store_sql.bulk import merge_with_copy

            merge_with_copy(self.connection, batch)
            return
        for name, table_rows in batch.by_table():
            table = metadata.tables[name]
            if name in UPSERT_KEYS:
                self._upsert(table, table_rows, UPSERT_KEYS[name])
            else:
                self._insert_ignore(table, table_rows)

    # --- histories ------------------------------------------------------------------------

    def status_history(self, enrolment_key: str) -> list[StatusChange]:
        h = enrolment_status_history.c
        query = select(enrolment_status_history).where(h.enrolment_key == enrolment_key)
        return [rows.status_change(r._mapping) for r in self._in_order_received(query, h)]

    def benefit_history(self, enrolment_key: str) -> list[BenefitChange]:
        h = benefit_history.c
        query = select(benefit_history).where(h.enrolment_key == enrolment_key)
        return [rows.benefit_change(r._mapping) for r in self._in_order_received(query, h)]

    def area_history(self, subject_key: str) -> list[AreaMove]:
        h = subject_area_history.c
        query = select(subject_area_history).where(h.subject_key == subject_key)
        return [rows.area_move(r._mapping) for r in self._in_order_received(query, h)]

    def _in_order_received(self, query: Any, h: Any) -> Any:
        # change_id increases with every change written; recorded_at first keeps rows migrated
        # from older schemas (random change ids) in time order.
        return self.connection.execute(query.order_by(h.recorded_at, h.change_id))

    # --- search ---------------------------------------------------------------------------

    def search_subjects(
        self,
        query: Expr,
        *,
        kind: SubjectKind | None,
        sort: Sequence[SortKey],
        offset: int,
        limit: int,
        as_of: date | None = None,
    ) -> tuple[list[str], int]:
        where = [compile_filter(query, as_of=as_of)]
        if kind is not None:
            where.append(subjects.c.kind == kind)
        total = self.connection.execute(
            select(func.count()).select_from(subjects).where(*where)
        ).scalar_one()
        page = (
            select(subjects.c.subject_key)
            .where(*where)
            .order_by(*compile_sort(sort, as_of=as_of))
            .offset(offset)
            .limit(limit)
        )
        return [k for (k,) in self.connection.execute(page)], int(total)

    def subject_exists(self, query: Expr, *, kind: SubjectKind | None) -> bool:
        where = [compile_filter(query)]
        if kind is not None:
            where.append(subjects.c.kind == kind)
        found = self.connection.execute(
            select(subjects.c.subject_key).where(*where).limit(1)
        ).first()
        return found is not None

    def load_beneficiaries(self, subject_keys: Sequence[str]) -> list[StoredBeneficiary]:
        found = self._load_subjects(subject_keys)
        enrolment_rows = sorted(
            self._select_in(enrolments, "subject_key", subject_keys),
            key=lambda r: (r.programme_identifier, r.enrolment_key),
        )
        programme_map = {
            r.programme_identifier: ProgrammeRecord(
                r.programme_identifier, r.programme_name, r.document
            )
            for r in self._select_in(
                programmes, "programme_identifier", [r.programme_identifier for r in enrolment_rows]
            )
        }
        benefit_map: dict[str, list[BenefitRecord]] = {}
        for r in sorted(
            self._select_in(benefits, "subject_key", subject_keys),
            key=lambda r: (r.benefit_date is None, r.benefit_date or date.min, r.benefit_key),
        ):
            benefit_map.setdefault(r.enrolment_key, []).append(rows.benefit(r._mapping))
        by_subject: dict[str, list[Any]] = {}
        for r in enrolment_rows:
            by_subject.setdefault(r.subject_key, []).append(
                (
                    rows.enrolment(r._mapping),
                    programme_map[r.programme_identifier],
                    tuple(benefit_map.get(r.enrolment_key, ())),
                )
            )
        return [
            StoredBeneficiary(found[key], tuple(by_subject.get(key, ())))
            for key in subject_keys
            if key in found
        ]

    def count_rows(self) -> dict[str, int]:
        return {
            name: int(self.connection.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in metadata.tables.items()
        }

    def deceased_with_open_enrolments(
        self, open_statuses: Sequence[str]
    ) -> list[tuple[str, EnrolmentRecord]]:
        s, e = subjects.c, enrolments.c
        query = (
            select(enrolments)
            .join(subjects, s.subject_key == e.subject_key)
            .where(
                or_(s.death_date.is_not(None), s.death_reported_by.is_not(None)),
                e.enrolment_status.in_(list(open_statuses)),
            )
            .order_by(e.subject_key, e.enrolment_key)
        )
        return [(r.subject_key, rows.enrolment(r._mapping)) for r in self.connection.execute(query)]

    # --- identity cases -------------------------------------------------------------------

    def identity_cases(self, *, status: str | None = None) -> list[IdentityCase]:
        c = identity_cases.c
        query = select(identity_cases).order_by(c.opened_at, c.case_id)
        if status is not None:
            query = query.where(c.status == status)
        return [rows.identity_case(r._mapping) for r in self.connection.execute(query)]

    def get_identity_case(self, case_id: str) -> IdentityCase | None:
        r = self.connection.execute(
            select(identity_cases).where(identity_cases.c.case_id == case_id)
        ).first()
        return None if r is None else rows.identity_case(r._mapping)

    def put_identity_case(self, case: IdentityCase) -> None:
        self._upsert(identity_cases, [rows.identity_case_row(case)], UPSERT_KEYS["identity_cases"])

    # --- merge and split ------------------------------------------------------------------

    def move_subject(self, from_key: str, into_key: str) -> None:
        """Where both subjects hold a row under the same key (an identifier, a source, an
        enrolment of one programme without record id), `into_key`'s row is kept; every history
        row moves. A source key derived from the subject (`sender|programme|~from_key`) becomes
        `...|~into_key`, the key the core derives for that source from now on."""
        for table in (
            identifiers,
            memberships,
            source_records,
            benefits,
            benefit_history,
            enrolment_status_history,
            enrolments,
            subject_area_history,
        ):
            self._move_rows(table, from_key, into_key, derived_sources=True)
        m = memberships.c
        kept = memberships.alias("kept")
        self.connection.execute(
            delete(memberships).where(
                m.member_key == from_key,
                exists(
                    select(1)
                    .select_from(kept)
                    .where(kept.c.subject_key == m.subject_key, kept.c.member_key == into_key)
                ),
            )
        )
        self.connection.execute(
            update(memberships).where(m.member_key == from_key).values(member_key=into_key)
        )
        self.connection.execute(delete(subjects).where(subjects.c.subject_key == from_key))

    def move_source(self, subject_key: str, source_key: str, into_key: str) -> None:
        carried = select(enrolments.c.enrolment_key).where(
            enrolments.c.subject_key == subject_key, enrolments.c.source_key == source_key
        )
        # Rows hanging off the enrolments move first, while the enrolments still say which.
        for table in (benefits, benefit_history, enrolment_status_history):
            self._move_rows(table, subject_key, into_key, table.c.enrolment_key.in_(carried))
        for table in (enrolments, source_records, subject_area_history):
            self._move_rows(table, subject_key, into_key, table.c.source_key == source_key)

    def _move_rows(
        self,
        table: Table,
        from_key: str,
        into_key: str,
        *conditions: ColumnElement[bool],
        derived_sources: bool = False,
    ) -> None:
        """Re-key `table`'s rows of `from_key` (that meet `conditions`) to `into_key`; a row
        whose new key `into_key` already holds is dropped (histories never collide).
        `derived_sources`: source keys ending in `~from_key` end in `~into_key` afterwards."""
        c = table.c
        moving = [c.subject_key == from_key, *conditions]
        values: dict[str, Any] = {"subject_key": into_key}
        if "enrolment_key" in c:
            values["enrolment_key"] = _rekeyed(c.enrolment_key, from_key, into_key)
        if derived_sources and "source_key" in c:
            values["source_key"] = _resourced(c.source_key, from_key, into_key)
        key_columns = [col.name for col in table.primary_key.columns]
        if "change_id" not in key_columns:
            kept = table.alias("kept")
            same_key = [kept.c[name] == values.get(name, c[name]) for name in key_columns]
            self.connection.execute(
                delete(table).where(*moving, exists(select(1).select_from(kept).where(*same_key)))
            )
        self.connection.execute(update(table).where(*moving).values(**values))

    # --- areas ----------------------------------------------------------------------------

    def put_areas(self, areas_: Sequence[AreaRecord]) -> None:
        unique = {a.area_code: rows.area_row(a) for a in areas_}
        self._upsert(areas, list(unique.values()), UPSERT_KEYS["areas"])

    def load_areas(self, codes: Sequence[str]) -> dict[str, AreaRecord]:
        found: dict[str, AreaRecord] = {}
        for chunk in self._chunks(codes):
            lineage = (
                select(areas.c.area_code, areas.c.parent_code)
                .where(self._among(areas.c.area_code, chunk))
                .cte("lineage", recursive=True)
            )
            parent = areas.alias("parent")
            lineage = lineage.union(
                select(parent.c.area_code, parent.c.parent_code).where(
                    parent.c.area_code == lineage.c.parent_code
                )
            )
            query = select(areas).where(areas.c.area_code.in_(select(lineage.c.area_code)))
            for r in self.connection.execute(query):
                found[r.area_code] = rows.area(r._mapping)
        return found


def _rekeyed(column: Any, from_key: str, into_key: str) -> Any:
    """`column` with a leading `from_key|` replaced by `into_key|` (other values unchanged)."""
    prefix = f"{from_key}|"
    return case(
        (
            func.substr(column, 1, len(prefix)) == prefix,
            literal(f"{into_key}|").concat(func.substr(column, len(prefix) + 1)),
        ),
        else_=column,
    )


def _resourced(column: Any, from_key: str, into_key: str) -> Any:
    """`column` with a trailing `|~from_key` replaced by `|~into_key` (others unchanged)."""
    suffix = f"|~{from_key}"
    return case(
        (
            func.substr(column, func.length(column) - len(suffix) + 1) == suffix,
            func.substr(column, 1, func.length(column) - len(from_key)).concat(into_key),
        ),
        else_=column,
    )


def _identifier_order(i: IdentifierRecord) -> tuple[str, str]:
    return (i.identifier_type, i.identifier_value)


def _received_order(r: Any) -> tuple[Any, str]:
    return (r.received_at, r.source_key)
