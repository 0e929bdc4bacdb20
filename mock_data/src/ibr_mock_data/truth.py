"""Planted truth: overlaps, duplicates and fuzzy duplicates, each recorded as a `TruthCase`.

Each natural enrolment draws at most one case, and a case never puts an identity into a
programme it already holds, so the truth file accounts for every overlap and duplicate in the
data: nothing of those kinds exists that the truth file does not list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from ibr_mock_data.config import GeneratorConfig, ProgrammeSpec
from ibr_mock_data.enrolment import (
    Enrolment,
    _history,
    _RecordIds,
    incompatible_pairs,
    schedule_benefits,
)
from ibr_mock_data.population import Person

__all__ = [
    "CROSS_PROGRAMME_OVERLAP",
    "DUPLICATE_IN_PROGRAMME",
    "FUZZY_DUPLICATE",
    "TruthCase",
    "identity_key",
    "plant_truth",
]

CROSS_PROGRAMME_OVERLAP = "cross_programme_overlap"
DUPLICATE_IN_PROGRAMME = "duplicate_in_programme"
FUZZY_DUPLICATE = "fuzzy_duplicate"

# Common spelling variants between transliterations and dialects (applied to the first match).
_TRANSLITERATIONS = (
    ("ph", "f"), ("th", "t"), ("sh", "sy"), ("dj", "j"), ("j", "dj"), ("oo", "u"), ("ou", "u"),
    ("kh", "k"), ("ck", "k"), ("c", "k"), ("k", "c"), ("y", "i"), ("i", "y"), ("w", "u"),
    ("v", "b"), ("ei", "ey"), ("ss", "s"), ("nh", "ny"), ("lh", "ly"), ("ç", "c"), ("ã", "a"),
    ("á", "a"), ("é", "e"), ("í", "i"), ("ó", "o"), ("ú", "u"), ("ñ", "n"), ("z", "s"),
)  # fmt: skip
_NAME_PERTURBATIONS = ("typo", "transliteration", "swapped_name_order", "date_format_error")


@dataclass(frozen=True, slots=True)
class TruthCase:
    """One planted case. `records` are `beneficiary_programme_id`s; the first is the original."""

    case_id: str
    kind: str
    programmes: tuple[str, ...]
    records: tuple[str, ...]
    person_id: str
    identifier: str
    perturbations: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case_id": self.case_id,
            "kind": self.kind,
            "programmes": list(self.programmes),
            "records": list(self.records),
            "person_id": self.person_id,
            "identifier": self.identifier,
        }
        if self.perturbations:
            out["perturbations"] = list(self.perturbations)
        return out


def identity_key(enrolment: Enrolment) -> str | None:
    """The identifier a programme record is matched on: household ID, else NID, else BRN."""
    if enrolment.programme.assistance_unit == "2":
        return enrolment.household.household_id
    person = enrolment.person
    return person.national_id or person.birth_registration


class _Planter:
    def __init__(self, config: GeneratorConfig, block: int, rng: random.Random, ids: _RecordIds):
        self.config = config
        self.block = block
        self.rng = rng
        self.ids = ids
        self.as_of = config.as_of.toordinal()
        self.window_start = self.as_of - int(config.benefit_months * 30.44)
        self.blocked = incompatible_pairs(config)
        self.cases: list[TruthCase] = []
        self.held: dict[str, dict[str, list[str]]] = {}  # identity -> programme -> record ids

    def case_id(self) -> str:
        return f"T{self.block:05d}-{len(self.cases) + 1:05d}"

    def copy_into(
        self, original: Enrolment, p: ProgrammeSpec, person: Person, kind: str
    ) -> Enrolment | None:
        end = self.as_of if person.death_ord is None else min(self.as_of, person.death_ord)
        start = max(original.enrolment_ord, p.start_date.toordinal())
        if start >= end:
            return None
        enrolment_ord = self.rng.randrange(start, end)
        record_id = self.ids.next(p.code)
        history = _history(p, person, enrolment_ord, self.as_of, self.rng)
        return Enrolment(
            record_id=record_id,
            programme=p,
            person=person,
            household=original.household,
            enrolment_ord=enrolment_ord,
            history=history,
            deliveries=schedule_benefits(
                p, record_id, enrolment_ord, history, self.window_start, self.as_of
            ),
            planted=kind,
        )

    def overlap(self, e: Enrolment, identity: str) -> Enrolment | None:
        held = self.held[identity]
        partners = sorted(
            other.code
            for other in self.config.programmes
            if other.assistance_unit == e.programme.assistance_unit
            and frozenset((e.programme.code, other.code)) in self.blocked
            and other.code not in held
        )
        if not partners:
            return None
        target = self.config.programme(self.rng.choice(partners))
        planted = self.copy_into(e, target, e.person, CROSS_PROGRAMME_OVERLAP)
        if planted is None:
            return None
        conflicting = sorted(
            (code, rid)
            for code, rids in held.items()
            if frozenset((code, target.code)) in self.blocked
            for rid in rids
        )
        self.cases.append(
            TruthCase(
                case_id=self.case_id(),
                kind=CROSS_PROGRAMME_OVERLAP,
                programmes=(*(code for code, _ in conflicting), target.code),
                records=(*(rid for _, rid in conflicting), planted.record_id),
                person_id=e.person.person_id,
                identifier=identity,
            )
        )
        return planted

    def duplicate(self, e: Enrolment, identity: str) -> Enrolment | None:
        planted = self.copy_into(e, e.programme, e.person, DUPLICATE_IN_PROGRAMME)
        if planted is None:
            return None
        self.cases.append(
            TruthCase(
                case_id=self.case_id(),
                kind=DUPLICATE_IN_PROGRAMME,
                programmes=(e.programme.code,),
                records=(e.record_id, planted.record_id),
                person_id=e.person.person_id,
                identifier=identity,
            )
        )
        return planted

    def fuzzy(self, e: Enrolment, identity: str) -> Enrolment | None:
        if e.programme.assistance_unit != "1":
            return None
        altered, perturbations = perturb_person(e.person, self.rng)
        planted = self.copy_into(e, e.programme, altered, FUZZY_DUPLICATE)
        if planted is None:
            return None
        self.cases.append(
            TruthCase(
                case_id=self.case_id(),
                kind=FUZZY_DUPLICATE,
                programmes=(e.programme.code,),
                records=(e.record_id, planted.record_id),
                person_id=e.person.person_id,
                identifier=identity,
                perturbations=perturbations,
            )
        )
        return planted


def plant_truth(
    config: GeneratorConfig,
    enrolments: list[Enrolment],
    block: int,
    rng: random.Random,
    ids: _RecordIds,
) -> tuple[list[Enrolment], list[TruthCase]]:
    """Add planted records to `enrolments` (returned shuffled) and the cases explaining them."""
    planter = _Planter(config, block, rng, ids)
    for e in enrolments:
        identity = identity_key(e)
        if identity is not None:
            planter.held.setdefault(identity, {}).setdefault(e.programme.code, []).append(
                e.record_id
            )
    rates = config.truth
    planted: list[Enrolment] = []
    for e in enrolments:
        identity = identity_key(e)
        draw = rng.random()
        if identity is None:
            continue
        new: Enrolment | None = None
        if draw < rates.cross_programme_overlap:
            new = planter.overlap(e, identity)
        elif draw < rates.cross_programme_overlap + rates.duplicate_in_programme:
            new = planter.duplicate(e, identity)
        elif draw < (
            rates.cross_programme_overlap + rates.duplicate_in_programme + rates.fuzzy_duplicate
        ):
            new = planter.fuzzy(e, identity)
        if new is not None:
            planted.append(new)
            new_identity = identity_key(new)
            if new_identity is not None:
                planter.held.setdefault(new_identity, {}).setdefault(new.programme.code, []).append(
                    new.record_id
                )
    out = enrolments + planted
    rng.shuffle(out)  # planted records must not sit at the end of the block
    return out, planter.cases


def _typo(value: str, rng: random.Random) -> str:
    if len(value) < 3:
        return value + value[-1]
    i = rng.randrange(1, len(value))
    op = rng.randrange(3)
    if op == 0:  # drop a letter
        return value[:i] + value[i + 1 :]
    if op == 1:  # double a letter
        return value[:i] + value[i] + value[i:]
    j = i - 1  # swap two neighbours (or fall back to a drop when they are equal)
    if value[j] == value[i]:
        return value[:i] + value[i + 1 :]
    return value[:j] + value[i] + value[j] + value[i + 1 :]


def _transliterate(value: str, rng: random.Random) -> str | None:
    lower = value.lower()
    options = [(a, b) for a, b in _TRANSLITERATIONS if a in lower[1:]]
    if not options:
        return None
    a, b = rng.choice(options)
    i = lower.index(a, 1)
    return value[:i] + b + value[i + len(a) :]


def _altered_birth(birth_ord: int, rng: random.Random) -> int:
    born = dt.date.fromordinal(birth_ord)
    if born.day <= 12 and born.day != born.month:
        return dt.date(born.year, born.day, born.month).toordinal()  # day and month swapped
    year = born.year + rng.choice((-1, 1))  # a mistyped year digit
    return dt.date(year, born.month, min(born.day, 28)).toordinal()


def _mistyped_id(value: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(value))
    digit = str((int(value[i]) + rng.randrange(1, 10)) % 10)
    return value[:i] + digit + value[i + 1 :]


def perturb_person(person: Person, rng: random.Random) -> tuple[Person, tuple[str, ...]]:
    """A copy of `person` as a careless second registration would record them.

    Always removes the shared ID (dropped, or mistyped so that its check digit fails), plus one or
    two changes to name or birth date. Returns the copy and the names of the changes made.
    """
    changes: dict[str, Any] = {}
    done: list[str] = []
    for kind in rng.sample(_NAME_PERTURBATIONS, k=rng.choice((1, 1, 2))):
        if kind == "typo":
            field = rng.choice(("given_name", "surname"))
            changes[field] = _typo(changes.get(field, getattr(person, field)), rng)
        elif kind == "transliteration":
            field = rng.choice(("given_name", "surname"))
            value = _transliterate(changes.get(field, getattr(person, field)), rng)
            if value is None:
                field = "surname" if field == "given_name" else "given_name"
                value = _transliterate(changes.get(field, getattr(person, field)), rng)
            if value is None:
                changes[field] = _typo(changes.get(field, getattr(person, field)), rng)
                kind = "typo"
            else:
                changes[field] = value
        elif kind == "swapped_name_order":
            given = changes.get("given_name", person.given_name)
            surname = changes.get("surname", person.surname)
            if given == surname:
                changes["given_name"] = _typo(given, rng)
                kind = "typo"
            else:
                changes["given_name"], changes["surname"] = surname, given
        else:
            changes["birth_ord"] = _altered_birth(person.birth_ord, rng)
        done.append(kind)
    names = (changes.get("given_name", person.given_name), changes.get("surname", person.surname))
    name_kinds = {"typo", "transliteration", "swapped_name_order"}
    if name_kinds.intersection(done) and names == (person.given_name, person.surname):
        # Two changes can cancel out (a doubled letter dropped again); a typo always changes.
        changes["given_name"] = _typo(person.given_name, rng)
        if "typo" not in done:
            done.append("typo")
    if person.national_id is not None and rng.random() < 0.4:
        changes["national_id"] = _mistyped_id(person.national_id, rng)
        done.append("id_typo")
    else:
        changes["national_id"] = None
        changes["birth_registration"] = None
        done.append("missing_id")
    changes["phone"] = None
    return dataclasses.replace(person, **changes), tuple(done)
