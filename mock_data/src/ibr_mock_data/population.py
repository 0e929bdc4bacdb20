"""Households and their members for one block of the population.

A block is generated from its own `random.Random` seeded by (seed, block index), so blocks can be
generated in any order or in parallel and still give the same bytes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.national_id import national_id_for
from ibr_mock_data.pools import Locality, Pools

__all__ = ["DISABILITY_TYPES", "Household", "Person", "generate_households"]

DISABILITY_TYPES = ("VIS_SS", "HEAR_SS", "MOB_SS", "COG_SS", "SC_SS", "COM_SS")
_DAYS_PER_YEAR = 365.2425


@dataclass(slots=True)
class Person:
    """One member of a household, as the civil registry would know them (the truth)."""

    index: int
    person_id: str
    household_id: str
    relationship: str  # DCI RelationshipType code, relative to the head
    sex: str  # DCI sex code
    birth_ord: int
    given_name: str
    surname: str
    second_name: str | None = None
    death_ord: int | None = None
    national_id: str | None = None
    birth_registration: str | None = None
    phone: str | None = None
    disability_type: str | None = None
    disability_severity: str | None = None
    marital_status: str | None = None
    employment_status: str | None = None
    formal_worker: bool = False
    registration_ord: int = 0

    @property
    def is_disabled(self) -> bool:
        return self.disability_type is not None

    def age_on(self, ordinal: int) -> int:
        return int((ordinal - self.birth_ord) / _DAYS_PER_YEAR)


@dataclass(slots=True)
class Household:
    index: int
    household_id: str
    locality: Locality
    street: str
    poverty_score: float
    registration_ord: int
    members: list[Person] = field(default_factory=list)

    @property
    def head(self) -> Person:
        return self.members[0]

    def youngest_age(self, ordinal: int) -> int:
        return min(m.age_on(ordinal) for m in self.members)


def _size_weights(mean: float) -> list[float]:
    """Household sizes 1..12: 1 + Poisson(mean - 1), a fair fit to census size distributions."""
    lam = mean - 1
    return [math.exp(-lam) * lam**k / math.factorial(k) for k in range(12)]


_HEAD_AGES = list(range(18, 96))
# Heads are mostly 25-60; the weight falls off after 60 as survival does.
_HEAD_AGE_WEIGHTS = [
    (0.4 if a < 25 else 1.0 if a < 50 else 0.8 if a < 60 else 0.55 * 0.95 ** (a - 60))
    for a in _HEAD_AGES
]


class _BlockBuilder:
    def __init__(self, config: GeneratorConfig, pools: Pools, block: int, rng: random.Random):
        self.config = config
        self.pools = pools
        self.block = block
        self.rng = rng
        self.as_of = config.as_of.toordinal()
        self.window_start = self.as_of - int(config.benefit_months * 30.44)
        self.profile = config.profile
        self.next_person = block * config.block_people
        self.size_cum = _cumulative(_size_weights(self.profile.mean_household_size))
        self.head_age_cum = _cumulative(_HEAD_AGE_WEIGHTS)

    def households(self, people: int) -> list[Household]:
        out: list[Household] = []
        remaining = people
        local = 0
        while remaining > 0:
            size = min(self._size(), remaining)
            out.append(self._household(self.block * self.config.block_people + local, size))
            remaining -= size
            local += 1
        return out

    def _size(self) -> int:
        return self.rng.choices(range(1, 13), cum_weights=self.size_cum)[0]

    def _household(self, index: int, size: int) -> Household:
        rng = self.rng
        locality = rng.choice(self.pools.localities)
        score = rng.triangular(0, 100, 40) - 2.5 * (size - 4)
        household = Household(
            index=index,
            household_id=f"HH{index:09d}",
            locality=locality,
            street=f"{rng.randrange(1, 400)} {rng.choice(self.pools.streets)}",
            poverty_score=round(min(100.0, max(0.0, score)), 1),
            registration_ord=self.as_of - rng.randrange(30, 3650),
        )
        surname = rng.choice(self.pools.surnames)
        head_age = _HEAD_AGES[rng.choices(range(len(_HEAD_AGES)), cum_weights=self.head_age_cum)[0]]
        if size >= 3 and head_age < 23:
            head_age += 10
        head_sex = "male" if rng.random() < 0.7 else "female"
        head = self._person(household, "SELF", head_sex, head_age, surname)
        household.members.append(head)
        slots = size - 1
        if slots and head_age < 85 and rng.random() < 0.8:
            spouse_age = max(18, head_age + rng.randint(-8, 4))
            spouse_sex = "female" if head_sex == "male" else "male"
            household.members.append(
                self._person(household, "PRIMSPOUS", spouse_sex, spouse_age, surname)
            )
            head.marital_status = "M"
            household.members[-1].marital_status = "M"
            slots -= 1
        if slots and head_age < 60 and rng.random() < 0.15:
            parent_age = min(100, head_age + rng.randint(20, 35))
            sex = "female" if rng.random() < 0.6 else "male"
            parent = self._person(household, "FAMMEMB", sex, parent_age, surname)
            parent.marital_status = "W" if rng.random() < 0.7 else "M"
            household.members.append(parent)
            slots -= 1
        max_child_age = max(0, head_age - 16)
        for _ in range(slots):
            age = rng.randint(0, min(max_child_age, 30 if head_age > 45 else 17))
            sex = "male" if rng.random() < 0.51 else "female"
            child = self._person(household, "SON" if sex == "male" else "DAU", sex, age, surname)
            household.members.append(child)
        if head.marital_status is None:
            head.marital_status = self._unpartnered_status(head_age)
        return household

    @staticmethod
    def _unpartnered_status_options(age: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
        if age >= 60:
            return ("W", "D", "S", "L"), (0.6, 0.15, 0.15, 0.1)
        return ("S", "D", "L", "U", "A"), (0.55, 0.2, 0.08, 0.15, 0.02)

    def _unpartnered_status(self, age: int) -> str:
        codes, weights = self._unpartnered_status_options(age)
        return self.rng.choices(codes, weights)[0]

    def _person(
        self, household: Household, relationship: str, sex: str, age: int, surname: str
    ) -> Person:
        rng = self.rng
        index = self.next_person
        self.next_person += 1
        pools = self.pools
        birth_ord = self.as_of - int(age * _DAYS_PER_YEAR) - rng.randrange(365)
        names = pools.male_names if sex == "male" else pools.female_names
        given_name = rng.choice(names)
        second_name = rng.choice(names) if rng.random() < 0.35 else None
        if second_name == given_name:
            second_name = None
        person = Person(
            index=index,
            person_id=f"P{index:09d}",
            household_id=household.household_id,
            relationship=relationship,
            sex=sex,
            birth_ord=birth_ord,
            given_name=given_name,
            surname=surname,
            second_name=second_name,
            registration_ord=max(household.registration_ord, birth_ord + 1),
        )
        adult = age >= 18
        if rng.random() < (self.config.id_coverage if adult else 0.4):
            person.national_id = national_id_for(self.config.country, self.config.seed, index)
        elif not adult:
            # The seed is part of the number so that two seeds never share a registration.
            seed = self.config.seed
            person.birth_registration = f"{self.config.as_of.year - age}{seed:03d}{index:09d}"
        if adult and rng.random() < 0.8:
            digits = self.profile.phone_digits
            person.phone = f"{self.profile.phone_prefix}{rng.randrange(10**digits):0{digits}d}"
        disability_rate = 0.02 if age < 18 else 0.05 if age < 60 else 0.16
        if rng.random() < disability_rate:
            person.disability_type = rng.choice(DISABILITY_TYPES)
            person.disability_severity = rng.choice(("2", "3", "3", "4"))
        if adult:
            if age >= 55 and age < 75 and rng.random() < 0.18:
                person.formal_worker = True
            if person.formal_worker and age < 65:
                person.employment_status = "4"
            elif age >= 65:
                person.employment_status = "2"
            else:
                person.employment_status = rng.choice(("2", "4", "6", "6", "8"))
                person.formal_worker = person.employment_status == "4"
            if relationship not in ("SELF", "PRIMSPOUS") and person.marital_status is None:
                person.marital_status = "S" if age < 30 or rng.random() < 0.5 else "D"
        if age >= 55:
            # Annual mortality roughly doubling every 8 years from 1% at 55 (Gompertz-like).
            annual = min(0.5, 0.01 * 2 ** ((age - 55) / 8))
            years = (self.as_of - self.window_start) / _DAYS_PER_YEAR
            if rng.random() < annual * years:
                person.death_ord = rng.randrange(max(birth_ord + 1, self.window_start), self.as_of)
        return person


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def generate_households(
    config: GeneratorConfig, pools: Pools, block: int, rng: random.Random
) -> list[Household]:
    """The households of `block`, holding exactly its share of `config.people`."""
    start = block * config.block_people
    people = min(config.block_people, config.people - start)
    return _BlockBuilder(config, pools, block, rng).households(people)
