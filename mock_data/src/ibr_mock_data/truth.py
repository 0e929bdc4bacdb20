"""Planted truth: every case kind, drawn per natural enrolment record, recorded as `TruthCase`s.

Each natural enrolment draws at most one case, an identity carries at most one case, and a case
never puts an identity into a programme it already holds (except the in-programme duplicate it
plants), so the truth file accounts for every overlap and duplicate in the data. The kinds of
issue #10 (identifiers, demographics, follow-up messages) are planted by `registry_cases`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ibr_mock_data import registry_cases
from ibr_mock_data.cases import (
    CROSS_PROGRAMME_OVERLAP,
    DUPLICATE_IN_PROGRAMME,
    FUZZY_DUPLICATE,
    KINDS,
    FollowUp,
    TruthCase,
)
from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.enrolment import Enrolment, _RecordIds
from ibr_mock_data.perturb import perturb_person
from ibr_mock_data.planter import Planter, identity_key

__all__ = [
    "CROSS_PROGRAMME_OVERLAP",
    "DUPLICATE_IN_PROGRAMME",
    "EVERY_KIND_FROM_PEOPLE",
    "FUZZY_DUPLICATE",
    "TruthCase",
    "identity_key",
    "plant_truth",
]

# A block of at least this many people holds at least one case of every kind with a rate > 0.
EVERY_KIND_FROM_PEOPLE = 500


def _overlap(planter: Planter, e: Enrolment, identity: str) -> bool:
    held = planter.held[identity]
    partners = sorted(
        other.code
        for other in planter.config.programmes
        if other.assistance_unit == e.programme.assistance_unit
        and frozenset((e.programme.code, other.code)) in planter.blocked
        and other.code not in held
    )
    if not partners:
        return False
    target = planter.config.programme(planter.rng.choice(partners))
    planted = planter.copy_into(e, target, e.person, CROSS_PROGRAMME_OVERLAP)
    if planted is None:
        return False
    conflicting = sorted(
        (code, rid)
        for code, rids in held.items()
        if frozenset((code, target.code)) in planter.blocked
        for rid in rids
    )
    planter.cases.append(
        TruthCase(
            case_id=planter.case_id(),
            kind=CROSS_PROGRAMME_OVERLAP,
            programmes=(*(code for code, _ in conflicting), target.code),
            records=(*(rid for _, rid in conflicting), planted.record_id),
            person_id=e.person.person_id,
            identifier=identity,
        )
    )
    planter.plant(planted)
    return True


def _duplicate(planter: Planter, e: Enrolment, identity: str) -> bool:
    """The in-programme duplicate: one person (or household) with two record ids in one
    programme; `records` holds both and `person_id` the person (a household's head)."""
    planted = planter.copy_into(e, e.programme, e.person, DUPLICATE_IN_PROGRAMME)
    if planted is None:
        return False
    planter.cases.append(
        TruthCase(
            case_id=planter.case_id(),
            kind=DUPLICATE_IN_PROGRAMME,
            programmes=(e.programme.code,),
            records=(e.record_id, planted.record_id),
            person_id=e.person.person_id,
            identifier=identity,
        )
    )
    planter.plant(planted)
    return True


def _fuzzy(planter: Planter, e: Enrolment, identity: str) -> bool:
    if e.programme.assistance_unit != "1":
        return False
    altered, perturbations = perturb_person(e.person, planter.rng)
    planted = planter.copy_into(e, e.programme, altered, FUZZY_DUPLICATE)
    if planted is None:
        return False
    planter.cases.append(
        TruthCase(
            case_id=planter.case_id(),
            kind=FUZZY_DUPLICATE,
            programmes=(e.programme.code,),
            records=(e.record_id, planted.record_id),
            person_id=e.person.person_id,
            identifier=identity,
            perturbations=perturbations,
        )
    )
    planter.plant(planted)
    return True


_PLANT: dict[str, Callable[[Planter, Enrolment, str], bool]] = {
    CROSS_PROGRAMME_OVERLAP: _overlap,
    DUPLICATE_IN_PROGRAMME: _duplicate,
    FUZZY_DUPLICATE: _fuzzy,
    **registry_cases.PLANT,
}
assert tuple(_PLANT) == KINDS


_MAX_OWED = 100


def _drawn(draw: float, rates: list[tuple[str, float]]) -> str | None:
    for kind, rate in rates:
        if draw < rate:
            return kind
        draw -= rate
    return None


def _try(planter: Planter, kind: str, e: Enrolment) -> bool:
    identity = identity_key(e)
    if identity is None or identity in planter.touched:
        return False
    if not _PLANT[kind](planter, e, identity):
        return False
    planter.touched.add(identity)
    return True


def plant_truth(
    config: GeneratorConfig,
    enrolments: list[Enrolment],
    block: int,
    rng: random.Random,
    ids: _RecordIds,
    people: int | None = None,
) -> tuple[list[Enrolment], list[TruthCase], list[FollowUp]]:
    """Add planted records to `enrolments` (returned shuffled), the cases explaining them and
    the follow-up messages of the cases that need one (in push order).

    `people` is the block's size: from `EVERY_KIND_FROM_PEOPLE` people on, a kind that no
    record drew is planted on the first record (in random order) that can carry it.
    """
    planter = Planter(config, block, rng, ids)
    for e in enrolments:
        planter.hold(e)
    rates = [(kind, getattr(config.truth, kind)) for kind in KINDS]
    # A kind drawn by a record that cannot carry it (no ID, no second programme, not active...)
    # is owed to the next records, so that the share of records with a case follows the rates.
    owed: list[str] = []
    for e in enrolments:
        drawn = _drawn(rng.random(), rates)
        if drawn is not None:
            if not _try(planter, drawn, e) and len(owed) < _MAX_OWED:
                owed.append(drawn)
            continue
        for i, kind in enumerate(owed):
            if _try(planter, kind, e):
                del owed[i]
                break
    if people is not None and people >= EVERY_KIND_FROM_PEOPLE:
        candidates = list(enrolments)
        rng.shuffle(candidates)
        for kind, rate in rates:
            if rate > 0 and not any(c.kind == kind for c in planter.cases):
                for e in candidates:
                    if _try(planter, kind, e):
                        break
    out = enrolments + planter.planted
    rng.shuffle(out)  # planted records must not sit at the end of the block
    return out, planter.cases, planter.follow_ups
