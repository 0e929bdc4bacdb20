"""Who enrols in which programme, their status history and the benefits delivered to them."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from ibr_mock_data.config import GeneratorConfig, ProgrammeSpec
from ibr_mock_data.population import Household, Person

__all__ = [
    "ACTIVE",
    "DECEASED",
    "ENDED_STATUSES",
    "EXITED",
    "GRADUATED",
    "SUSPENDED",
    "Delivery",
    "Enrolment",
    "StatusChange",
    "enrol_households",
    "incompatible_pairs",
    "schedule_benefits",
]

# DCI enrolment status codes.
ACTIVE, DECEASED, GRADUATED, SUSPENDED, EXITED = "1", "2", "3", "4", "5"
# Statuses after which a record is no longer enrolled (IBR-ENROLLED-001; 6 is Withdrawn).
ENDED_STATUSES = frozenset({DECEASED, GRADUATED, EXITED, "6"})
_DAYS_PER_YEAR = 365.2425


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str
    date_ord: int
    reason: str


# One benefit delivery: (benefit_id, benefit_date, period_start, period_end), ISO dates. A plain
# tuple because national scale makes millions of them.
Delivery = tuple[str, str, str, str]


@dataclass(slots=True)
class Enrolment:
    """One programme record: a member or a household as the programme's SP-MIS registered it.

    `person` is the registered member (for a household programme, the head). In a planted fuzzy
    duplicate it is an altered copy of the true person, so it can differ from the population.
    """

    record_id: str
    programme: ProgrammeSpec
    person: Person
    household: Household
    enrolment_ord: int
    history: list[StatusChange]
    deliveries: list[Delivery] = field(default_factory=list)
    planted: str | None = None  # the truth case kind when this record was planted
    # How the record sends the member's identifiers when not as the person holds them (a planted
    # order, format or type alias): (identifier_type, identifier_value) pairs.
    sent_identifiers: tuple[tuple[str, str], ...] | None = None
    # Benefit ids of deliveries sent without `benefit_id` (keyed by programme, record and period).
    unkeyed_benefits: frozenset[str] = frozenset()

    @property
    def status(self) -> StatusChange:
        return self.history[-1]


def incompatible_pairs(config: GeneratorConfig) -> frozenset[frozenset[str]]:
    """The programme pairs that must not combine (declared on either side)."""
    return frozenset(
        frozenset((p.code, other)) for p in config.programmes for other in p.incompatible_with
    )


def _years_later(ordinal: int, years: int) -> int:
    return ordinal + int(years * _DAYS_PER_YEAR) + 1


def _eligibility_window(
    p: ProgrammeSpec, person: Person, household: Household, as_of: int, window_start: int
) -> tuple[int, int] | None:
    """The days (first, last) on which `person` could have enrolled, or None when never.

    Programmes that graduate members at an age also hold those who aged out during the benefit
    window, so their graduation shows in the data.
    """
    rule = p.eligibility
    age = person.age_on(as_of)
    last = as_of if person.death_ord is None else min(as_of, person.death_ord)
    if rule.min_age is not None and age < rule.min_age:
        return None
    if rule.max_age is not None:
        aged_out = _years_later(person.birth_ord, rule.max_age + 1)
        if p.graduation_age is not None:
            if aged_out <= window_start:
                return None
            last = min(last, aged_out)
        elif age > rule.max_age:
            return None
    if rule.disabled is not None and person.is_disabled != rule.disabled:
        return None
    if rule.formal_worker is not None and person.formal_worker != rule.formal_worker:
        return None
    if rule.max_poverty_score is not None and household.poverty_score > rule.max_poverty_score:
        return None
    if (
        rule.household_child_under is not None
        and household.youngest_age(as_of) >= rule.household_child_under
    ):
        return None
    first = max(p.start_date.toordinal(), household.registration_ord, person.birth_ord + 1)
    if rule.min_age is not None:
        first = max(first, _years_later(person.birth_ord, rule.min_age))
    if first >= last:
        return None
    return first, last


def _chance(rate_per_year: float, years: float) -> float:
    return 1.0 - float((1.0 - rate_per_year) ** years)


def _history(
    p: ProgrammeSpec, person: Person, start: int, as_of: int, rng: random.Random
) -> list[StatusChange]:
    history = [StatusChange(ACTIVE, start, "enrolled")]
    end = as_of if person.death_ord is None else min(as_of, person.death_ord)
    years = max(0.0, (end - start) / _DAYS_PER_YEAR)
    if p.graduation_age is not None:
        graduation = _years_later(person.birth_ord, p.graduation_age)
        if graduation <= end:
            history.append(StatusChange(GRADUATED, graduation, "reached the age limit"))
            return history
    if end - start > 60 and rng.random() < _chance(p.suspension_rate, years):
        suspended = rng.randrange(start + 30, end)
        reason = rng.choice(("failed payment verification", "conditions not met", "not located"))
        history.append(StatusChange(SUSPENDED, suspended, reason))
        back = suspended + rng.randrange(60, 240)
        if back < end and rng.random() < 0.6:
            history.append(StatusChange(ACTIVE, back, "reinstated after review"))
    last = history[-1].date_ord
    if end - last > 60 and rng.random() < _chance(p.graduation_rate, years):
        graduated = rng.randrange(last + 30, end)
        history.append(StatusChange(GRADUATED, graduated, "exceeded the eligibility threshold"))
    if (
        person.death_ord is not None
        and person.death_ord <= as_of
        and history[-1].status != GRADUATED
    ):
        history.append(StatusChange(DECEASED, person.death_ord, "death reported"))
    return history


@lru_cache(maxsize=65536)
def _month_payment(month_index: int, pay_day: int, months: int) -> tuple[int, str, str, str]:
    """(ordinal, date, period start, period end) of a payment in month `month_index`."""
    year, month0 = divmod(month_index, 12)
    day = dt.date(year, month0 + 1, pay_day)
    first_year, first_month0 = divmod(month_index - months + 1, 12)
    next_year, next_month0 = divmod(month_index + 1, 12)
    period_end = dt.date(next_year, next_month0 + 1, 1) - dt.timedelta(days=1)
    return (
        day.toordinal(),
        day.isoformat(),
        f"{first_year:04d}-{first_month0 + 1:02d}-01",
        period_end.isoformat(),
    )


def _active_spans(history: list[StatusChange], until: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for i, change in enumerate(history):
        if change.status != ACTIVE:
            continue
        end = history[i + 1].date_ord if i + 1 < len(history) else until + 1
        spans.append((change.date_ord, end))
    return spans


def schedule_benefits(
    p: ProgrammeSpec,
    record_id: str,
    enrolment_ord: int,
    history: list[StatusChange],
    window_start: int,
    as_of: int,
) -> list[Delivery]:
    """The deliveries of one enrolment between `window_start` and `as_of`, while it is active."""
    spans = _active_spans(history, as_of)
    out: list[Delivery] = []
    append = out.append

    def add(ordinal: int, date: str, start: str, end: str) -> None:
        for lo, hi in spans:
            if lo <= ordinal < hi:
                append((f"{record_id}-{len(out) + 1:03d}", date, start, end))
                return

    if p.freq in ("MONTHLY", "YEARLY", "ONCE"):
        step = p.interval * (12 if p.freq == "YEARLY" else 1)
        enrol = dt.date.fromordinal(enrolment_ord)
        first = enrol.year * 12 + enrol.month  # the month after enrolment
        window = dt.date.fromordinal(window_start)
        window_month = window.year * 12 + window.month - 1
        month = first
        if p.freq != "ONCE" and month < window_month:
            month += -(-(window_month - month) // step) * step
        while True:
            ordinal, date, start, end = _month_payment(month, p.pay_day, step)
            if ordinal > as_of:
                break
            if ordinal >= window_start:
                add(ordinal, date, start, end)
            if p.freq == "ONCE":
                break
            month += step
    else:
        step = p.interval * (7 if p.freq == "WEEKLY" else 1)
        ordinal = enrolment_ord + step
        if ordinal < window_start:
            ordinal += -(-(window_start - ordinal) // step) * step
        while ordinal <= as_of:
            date = dt.date.fromordinal(ordinal).isoformat()
            start = dt.date.fromordinal(ordinal - step + 1).isoformat()
            add(ordinal, date, start, date)
            ordinal += step
    return out


class _RecordIds:
    """Record ids unique in the block, drawn at random so that their order reveals nothing
    (planted records must not stand out by being numbered after the natural ones)."""

    def __init__(self, block: int, rng: random.Random):
        self.block = block
        self.rng = rng
        self.used: set[int] = set()

    def next(self, programme: str) -> str:
        number = self.rng.randrange(10_000_000)
        while number in self.used:
            number = self.rng.randrange(10_000_000)
        self.used.add(number)
        return f"{programme}-{self.block:05d}-{number:07d}"


def enrol_households(
    config: GeneratorConfig,
    households: list[Household],
    block: int,
    rng: random.Random,
    ids: _RecordIds | None = None,
) -> tuple[list[Enrolment], _RecordIds]:
    """Apply each programme's eligibility and take-up to the block's households."""
    as_of = config.as_of.toordinal()
    window_start = as_of - int(config.benefit_months * 30.44)
    blocked = incompatible_pairs(config)
    ids = ids or _RecordIds(block, rng)
    enrolments: list[Enrolment] = []
    for household in households:
        taken: dict[int, set[str]] = {m.index: set() for m in household.members}
        household_taken: set[str] = set()
        for p in config.programmes:
            candidates = [household.head] if p.assistance_unit == "2" else household.members
            for person in candidates:
                # A household programme conflicts with any member's programme and vice versa.
                held = (
                    household_taken.union(*taken.values())
                    if p.assistance_unit == "2"
                    else taken[person.index] | household_taken
                )
                if any(frozenset((p.code, other)) in blocked for other in held):
                    continue
                window = _eligibility_window(p, person, household, as_of, window_start)
                if window is None or rng.random() >= p.take_up:
                    continue
                enrolment_ord = rng.randrange(*window)
                record_id = ids.next(p.code)
                history = _history(p, person, enrolment_ord, as_of, rng)
                enrolments.append(
                    Enrolment(
                        record_id=record_id,
                        programme=p,
                        person=person,
                        household=household,
                        enrolment_ord=enrolment_ord,
                        history=history,
                        deliveries=schedule_benefits(
                            p, record_id, enrolment_ord, history, window_start, as_of
                        ),
                    )
                )
                (household_taken if p.assistance_unit == "2" else taken[person.index]).add(p.code)
                if p.eligibility.one_per_household:
                    break
    return enrolments, ids


def amount_for(p: ProgrammeSpec, config: GeneratorConfig) -> str:
    """The amount of one delivery as a decimal string with two places."""
    return str((p.base_amount * config.profile.amount_scale).quantize(Decimal("0.01")))
