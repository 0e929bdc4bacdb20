"""The state shared by every planted case of one block: which identity holds which records,
which identities already carry a case, record ids, and the cases and follow-ups planted so far."""

from __future__ import annotations

import random

from ibr_mock_data.cases import FollowUp, TruthCase
from ibr_mock_data.config import GeneratorConfig, ProgrammeSpec
from ibr_mock_data.enrolment import (
    ACTIVE,
    Enrolment,
    StatusChange,
    _history,
    _RecordIds,
    incompatible_pairs,
    schedule_benefits,
)
from ibr_mock_data.population import Person

__all__ = ["FOLLOW_UP_DAYS", "Planter", "identity_key"]

FOLLOW_UP_DAYS = 60  # follow-up messages are dated in the days after `as_of`


def identity_key(enrolment: Enrolment) -> str | None:
    """The identifier a programme record is matched on: household ID, else NID, else BRN."""
    if enrolment.programme.assistance_unit == "2":
        return enrolment.household.household_id
    person = enrolment.person
    return person.national_id or person.birth_registration


class Planter:
    def __init__(self, config: GeneratorConfig, block: int, rng: random.Random, ids: _RecordIds):
        self.config = config
        self.block = block
        self.rng = rng
        self.ids = ids
        self.as_of = config.as_of.toordinal()
        self.window_start = self.as_of - int(config.benefit_months * 30.44)
        self.blocked = incompatible_pairs(config)
        self.cases: list[TruthCase] = []
        self.follow_ups: list[FollowUp] = []
        self.planted: list[Enrolment] = []
        self.held: dict[str, dict[str, list[str]]] = {}  # identity -> programme -> record ids
        self.records: dict[str, Enrolment] = {}
        # One case per identity, so that no two cases' expected outcomes depend on each other.
        self.touched: set[str] = set()

    def case_id(self) -> str:
        return f"T{self.block:05d}-{len(self.cases) + 1:05d}"

    def hold(self, e: Enrolment) -> None:
        self.records[e.record_id] = e
        identity = identity_key(e)
        if identity is not None:
            self.held.setdefault(identity, {}).setdefault(e.programme.code, []).append(e.record_id)

    def plant(self, e: Enrolment) -> None:
        self.planted.append(e)
        self.hold(e)

    def follow_up_day(self, after: int = 0) -> int:
        """A day in the follow-up period after `as_of`, later than `as_of + after`."""
        return self.as_of + self.rng.randrange(after + 1, FOLLOW_UP_DAYS + 1)

    def copy_into(
        self,
        original: Enrolment,
        p: ProgrammeSpec,
        person: Person,
        kind: str,
        *,
        stays_active: bool = False,
    ) -> Enrolment | None:
        """A new record of `person` in `p`, enrolled after `original` (None when no day fits)."""
        end = self.as_of if person.death_ord is None else min(self.as_of, person.death_ord)
        start = max(original.enrolment_ord, p.start_date.toordinal())
        if start >= end:
            return None
        enrolment_ord = self.rng.randrange(start, end)
        record_id = self.ids.next(p.code)
        history = (
            [StatusChange(ACTIVE, enrolment_ord, "enrolled")]
            if stays_active
            else _history(p, person, enrolment_ord, self.as_of, self.rng)
        )
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

    def second_programme(self, e: Enrolment, identity: str) -> ProgrammeSpec | None:
        """A member programme the identity does not hold and compatible with all it holds.

        Adult programmes are not offered to children, nor programmes that graduate at an age to
        those past it (their history would end before it began); other eligibility rules are
        ignored, as they are in every planted record.
        """
        held = self.held.get(identity, {})
        age = e.person.age_on(self.as_of)
        options = [
            p
            for p in self.config.programmes
            if p.assistance_unit == "1"
            and p.code not in held
            and not any(frozenset((p.code, code)) in self.blocked for code in held)
            and (p.eligibility.min_age is None or age >= p.eligibility.min_age)
            and (p.graduation_age is None or age < p.graduation_age)
        ]
        return self.rng.choice(options) if options else None
