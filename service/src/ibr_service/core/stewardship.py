"""What a registry steward does by hand, audited: identity decisions, areas, follow-ups.

Every function is one unit of work on a `Store`; hosts (CLI, Odoo) parse, call, print.

    merge_case(store, "ic-...", into="p:NID:123", actor="officer-7", now=now)
    load_areas(store, rows_from_csv)
    deceased_still_enrolled(store, settings)
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from ibr_service.core.audit import append_audit
from ibr_service.core.errors import NotFoundError, RequestError
from ibr_service.core.ingest import derived_subject_key
from ibr_service.core.records import (
    AreaRecord,
    EnrolmentRecord,
    IdentifierRecord,
    IdentityCase,
    RegistryWrite,
    SourceRecord,
)
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import Store, StoreTransaction
from ibr_service.core.survivorship import consolidate

__all__ = [
    "AREA_CSV_COLUMNS",
    "deceased_still_enrolled",
    "dismiss_case",
    "load_areas",
    "merge_case",
    "read_area_csv",
    "split_source",
]

AREA_CSV_COLUMNS = ("country_code", "level", "area_code", "name", "parent_code")


def merge_case(
    store: Store, case_id: str, *, into: str, actor: str, now: datetime, note: str | None = None
) -> IdentityCase:
    """Merge every other subject of an open case into `into`; the case becomes `merged`."""
    with store.transaction() as tx:
        case = _open_case(tx, case_id)
        if into not in case.subject_keys:
            raise RequestError("into must be one of the case's subjects", field="into")
        others = [k for k in case.subject_keys if k != into]
        for other in others:
            tx.move_subject(other, into)
        _reconsolidate(tx, [into])
        decided = replace(case, status="merged", decided_at=now, decided_by=actor, note=note)
        tx.put_identity_case(decided)
        append_audit(
            tx,
            at=now,
            actor=actor,
            action="identity.merge",
            subject=case_id,
            detail={"into": into, "merged": others},
        )
    return decided


def dismiss_case(
    store: Store, case_id: str, *, actor: str, now: datetime, note: str | None = None
) -> IdentityCase:
    """Keep the case's subjects apart (different people); the case becomes `dismissed`."""
    with store.transaction() as tx:
        case = _open_case(tx, case_id)
        decided = replace(case, status="dismissed", decided_at=now, decided_by=actor, note=note)
        tx.put_identity_case(decided)
        append_audit(tx, at=now, actor=actor, action="identity.dismiss", subject=case_id, detail={})
    return decided


def split_source(
    store: Store, subject_key: str, source_key: str, *, actor: str, now: datetime
) -> str:
    """Move one source record (and what it carries) out of a subject into a new subject."""
    with store.transaction() as tx:
        state = tx.load_subject_states([subject_key]).get(subject_key)
        if state is None or source_key not in {s.source_key for s in state.sources}:
            raise NotFoundError("no such source record on that subject", field="source_key")
        if len(state.sources) < 2:
            raise RequestError("a subject with one source record cannot be split", field="source")
        new_key = derived_subject_key(state.subject.kind, "split", source_key)
        tx.move_source(subject_key, source_key, new_key)
        moved = next(s for s in state.sources if s.source_key == source_key)
        kept = [s for s in state.sources if s.source_key != source_key]
        moved = replace(moved, subject=replace(moved.subject, subject_key=new_key))
        _write_consolidated(
            tx,
            {
                subject_key: (kept, state.subject.identifiers, state.subject.member_keys),
                new_key: ([moved], (), ()),
            },
        )
        append_audit(
            tx,
            at=now,
            actor=actor,
            action="identity.split",
            subject=subject_key,
            detail={"source_key": source_key, "new_subject": new_key},
        )
    return new_key


def read_area_csv(path: Path) -> list[AreaRecord]:
    """Areas from a CSV with columns `country_code,level,area_code,name,parent_code`.

    Raises ValueError naming the line and the problem; every parent must be in the file or
    already loaded (checked by `load_areas`).
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in AREA_CSV_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        return [_area(row, line) for line, row in enumerate(reader, start=2)]


def load_areas(store: Store, areas: Sequence[AreaRecord], *, actor: str, now: datetime) -> int:
    """Insert or replace areas; every parent must exist (in `areas` or already loaded)."""
    codes = {a.area_code for a in areas}
    with store.transaction() as tx:
        parents = sorted({a.parent_code for a in areas if a.parent_code} - codes)
        known = tx.load_areas(parents) if parents else {}
        unknown = [p for p in parents if p not in known]
        if unknown:
            raise RequestError(
                f"{len(unknown)} parent code(s) are neither in the file nor loaded, e.g. "
                f"{unknown[0]!r}",
                field="parent_code",
            )
        tx.put_areas(list(areas))
        append_audit(
            tx,
            at=now,
            actor=actor,
            action="areas.load",
            subject="areas",
            detail={"areas": len(areas)},
        )
    return len(areas)


def deceased_still_enrolled(
    store: Store, settings: CoreSettings
) -> list[tuple[str, EnrolmentRecord]]:
    """Enrolments still open for people any source reported dead: for the owning SP-MIS to
    follow up (the IBR does not close them itself)."""
    with store.transaction() as tx:
        return tx.deceased_with_open_enrolments(sorted(settings.enrolled_statuses))


def _open_case(tx: StoreTransaction, case_id: str) -> IdentityCase:
    case = tx.get_identity_case(case_id)
    if case is None:
        raise NotFoundError("no identity case with that id", field="case_id")
    if case.status != "open":
        raise RequestError(f"the case is already {case.status}", field="case_id")
    return case


def _reconsolidate(tx: StoreTransaction, keys: Iterable[str]) -> None:
    """Derive the subjects again from the source records they now hold."""
    states = tx.load_subject_states(list(keys))
    _write_consolidated(
        tx,
        {
            key: (st.sources, st.subject.identifiers, st.subject.member_keys)
            for key, st in states.items()
        },
    )


def _write_consolidated(
    tx: StoreTransaction,
    subjects: Mapping[
        str, tuple[Sequence[SourceRecord], Sequence[IdentifierRecord], Sequence[str]]
    ],
) -> None:
    codes = sorted(
        {
            s.subject.area_code
            for sources, _, _ in subjects.values()
            for s in sources
            if s.subject.area_code
        }
    )
    areas = tx.load_areas(codes) if codes else {}
    write = RegistryWrite()
    for key, (sources, identifiers, members) in subjects.items():
        if sources:
            write.subjects.append(
                consolidate(key, sources, identifiers=identifiers, member_keys=members, areas=areas)
            )
    tx.write_registry(write)


def _area(row: Mapping[str, str | None], line: int) -> AreaRecord:
    code = (row.get("area_code") or "").strip()
    name = (row.get("name") or "").strip()
    level_text = (row.get("level") or "").strip()
    if not code or not name:
        raise ValueError(f"line {line}: area_code and name are required")
    if not level_text.isdigit() or not 1 <= int(level_text) <= 9:
        raise ValueError(f"line {line}: level must be a whole number from 1 to 9")
    parent = (row.get("parent_code") or "").strip() or None
    if int(level_text) > 1 and parent is None:
        raise ValueError(f"line {line}: an area below level 1 needs a parent_code")
    country = (row.get("country_code") or "").strip() or None
    return AreaRecord(code, int(level_text), name, parent, country)
