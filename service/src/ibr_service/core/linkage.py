"""Linking a batch's records to subjects: deterministic, set-wise, never merging on its own.

In order (docs/registry-model.md, "Identity"):

1. A source already seen (same sender, programme and programme record id) stays with the
   subject it is linked to: an operator's merge or split moves it, nothing else does.
2. Otherwise the record's normalised identifiers name the subject. None known: a new subject
   (its best-ranked identifier makes the key). One subject: linked, unless the demographics
   clash - then a new subject and a `demographic_clash` case. Several subjects: linked to the
   subject of its best-ranked identifier, and an `identifier_conflict` case.

Identifiers already linked elsewhere are never re-pointed; new ones are linked to the chosen
subject. The store is read three times per batch (sources, identifiers, candidate subjects),
whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from ibr_service.core.ingest import content_hash, derived_subject_key, rekey
from ibr_service.core.records import (
    EnrolmentUpdate,
    IdentifierRecord,
    IdentityCase,
    JsonDict,
    SubjectRecord,
)
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import StoreTransaction

__all__ = ["Linked", "link"]


@dataclass
class Linked:
    """The batch's updates re-keyed to their subjects, and what linkage adds."""

    items: list[list[EnrolmentUpdate]]
    new_links: list[tuple[str, IdentifierRecord]] = field(default_factory=list)
    cases: list[IdentityCase] = field(default_factory=list)
    maybe_stored: set[str] = field(default_factory=set)
    """Subject keys that may already be stored: found through a source or an identifier, or
    derived (no identifier says). Every other key is new, so nothing need be read for it."""


@dataclass
class _Facts:
    sex: str | None
    birth_year: int | None


class _Linker:
    def __init__(
        self,
        tx: StoreTransaction,
        items: Sequence[Sequence[EnrolmentUpdate]],
        settings: CoreSettings,
        now: datetime,
    ) -> None:
        self.tx, self.settings, self.now = tx, settings, now
        subjects = [s for updates in items for u in updates for s in (u.subject, *u.members)]
        identifiers = list(dict.fromkeys(i for s in subjects for i in s.identifiers))
        self.found: dict[IdentifierRecord, list[str]] = {
            i: list(keys) for i, keys in tx.subjects_by_identifiers(identifiers).items()
        }
        source_keys = [
            u.enrolment.source_key
            for updates in items
            for u in updates
            if u.enrolment.beneficiary_programme_id is not None
        ]
        self.by_source = tx.subjects_by_sources(source_keys) if source_keys else {}
        candidates = {k for keys in self.found.values() for k in keys}
        states = tx.load_subject_states(sorted(candidates)) if candidates else {}
        self.facts: dict[str, _Facts] = {
            key: _facts(state.subject) for key, state in states.items()
        }
        self.linked = Linked(items=[])
        self.case_ids: set[str] = set()

    def item(self, updates: Sequence[EnrolmentUpdate]) -> list[EnrolmentUpdate]:
        first = updates[0]
        sources = [u.enrolment.source_key for u in updates if u.enrolment.beneficiary_programme_id]
        subject_key = self.subject(first.subject, sources, first)
        members = tuple(replace(m, subject_key=self.subject(m, [], first)) for m in first.members)
        return [rekey(u, subject_key, members) for u in updates]

    def subject(
        self, subject: SubjectRecord, sources: Sequence[str], update: EnrolmentUpdate
    ) -> str:
        prefix = subject.subject_key[:2]
        for source in sources:
            if source in self.by_source:
                self.linked.maybe_stored.add(self.by_source[source])
                return self.by_source[source]
        if not subject.identifiers:
            self.linked.maybe_stored.add(subject.subject_key)
        candidates = list(
            dict.fromkeys(
                k
                for i in subject.identifiers
                for k in self.found.get(i, ())
                if k.startswith(prefix)
            )
        )
        self.linked.maybe_stored.update(candidates)
        if not candidates:
            key = subject.subject_key
        elif len(candidates) == 1:
            key = candidates[0]
            clash = self._clash(self.facts.get(key), _facts(subject))
            if clash is not None:
                anchor = sources[0] if sources else f"{update.enrolment.source_key}|{key}"
                new_key = derived_subject_key(subject.kind, "clash", anchor)
                self.linked.maybe_stored.add(new_key)
                self._case("demographic_clash", (key, new_key), subject, update, clash)
                self.facts.setdefault(new_key, _facts(subject))
                for source in sources:
                    self.by_source[source] = new_key
                return new_key
        else:
            best = next(i for i in subject.identifiers if self.found.get(i))
            key = next(k for k in self.found[best] if k.startswith(prefix))
            self._case(
                "identifier_conflict",
                tuple(candidates),
                subject,
                update,
                {
                    "identifiers": [
                        f"{i.identifier_type}:{i.identifier_value}"
                        for i in subject.identifiers
                        if self.found.get(i)
                    ]
                },
            )
        for identifier in subject.identifiers:
            if not self.found.get(identifier):
                self.found[identifier] = [key]
                self.linked.new_links.append((key, identifier))
        self.facts.setdefault(key, _facts(subject))
        for source in sources:
            self.by_source[source] = key
        return key

    def _clash(self, stored: _Facts | None, new: _Facts) -> JsonDict | None:
        if stored is None:
            return None
        evidence: JsonDict = {}
        if stored.sex and new.sex and stored.sex != new.sex:
            evidence["sex"] = "differs"
        if stored.birth_year and new.birth_year:
            gap = abs(stored.birth_year - new.birth_year)
            if gap > self.settings.identity_birth_year_tolerance:
                evidence["birth_year_gap"] = gap
        return evidence or None

    def _case(
        self,
        kind: Literal["identifier_conflict", "demographic_clash"],
        keys: tuple[str, ...],
        subject: SubjectRecord,
        update: EnrolmentUpdate,
        evidence: JsonDict,
    ) -> None:
        identifier = subject.identifiers[0] if subject.identifiers else None
        case_id = "ic-" + content_hash([kind, sorted(keys)])[:32]
        if case_id in self.case_ids or self.tx.get_identity_case(case_id) is not None:
            return
        self.case_ids.add(case_id)
        self.linked.cases.append(
            IdentityCase(
                case_id=case_id,
                kind=kind,
                subject_keys=keys,
                identifier_type=None if identifier is None else identifier.identifier_type,
                identifier_value=None if identifier is None else identifier.identifier_value,
                evidence={**evidence, "source_key": update.enrolment.source_key},
                sender_id=update.enrolment.sender_id,
                programme_identifier=update.enrolment.programme_identifier,
                opened_at=self.now,
            )
        )


def _facts(subject: SubjectRecord) -> _Facts:
    year = subject.birth_date.year if subject.birth_date is not None else None
    return _Facts(subject.sex, year)


def link(
    tx: StoreTransaction,
    items: Sequence[Sequence[EnrolmentUpdate]],
    *,
    settings: CoreSettings,
    now: datetime,
) -> Linked:
    """Link every item's subject (and household members) to a subject key, in batch order."""
    linker = _Linker(tx, items, settings, now)
    for updates in items:
        linker.linked.items.append(linker.item(updates) if updates else [])
    return linker.linked
