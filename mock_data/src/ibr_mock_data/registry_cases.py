"""The registry cases of issue #10: identifiers sent in another order, format or type spelling,
clashing demographics, and the cases that need a follow-up message (a death reported by another
programme, a move, a stale update, a benefit corrected or reversed).

Each function plants one case for natural record `e` of `identity` and returns False when `e`
cannot carry it. Follow-up messages are dated in the `FOLLOW_UP_DAYS` after `as_of`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ibr_mock_data.cases import (
    ALIASED_IDENTIFIER_TYPE,
    AREA_MOVE,
    BENEFIT_CORRECTION,
    BENEFIT_REVERSAL,
    CONFLICTING_DEMOGRAPHICS,
    DEATH_REPORTED_ELSEWHERE,
    FORMATTED_IDENTIFIER,
    SPLIT_IDENTIFIER_ORDER,
    STALE_UPDATE,
    FollowUp,
    TruthCase,
)
from ibr_mock_data.enrolment import (
    ACTIVE,
    DECEASED,
    ENDED_STATUSES,
    EXITED,
    Delivery,
    Enrolment,
    StatusChange,
    amount_for,
)
from ibr_mock_data.planter import Planter
from ibr_mock_data.pools import pools_for
from ibr_mock_data.population import Person

__all__ = ["PLANT", "formatted_value", "uin_for"]


def _iso(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def uin_for(national_id: str) -> str:
    """The person's UIN: the NID's serial reversed (unique per person, unrelated in look)."""
    return national_id[:-1][::-1]


def formatted_value(national_id: str, style: int) -> str:
    """The NID as typed for display: grouped by four with spaces, hyphens or both."""
    a, b, c = national_id[:4], national_id[4:8], national_id[8:]
    return (f"{a} {b} {c}", f"{a}-{b}-{c}", f"{a} {b}-{c}")[style % 3]


def _case(
    planter: Planter, kind: str, e: Enrolment, identity: str, *others: Enrolment, **details: Any
) -> str:
    case_id = planter.case_id()
    planter.cases.append(
        TruthCase(
            case_id=case_id,
            kind=kind,
            programmes=(e.programme.code, *(o.programme.code for o in others)),
            records=(e.record_id, *(o.record_id for o in others)),
            person_id=e.person.person_id,
            identifier=identity,
            details=details,
        )
    )
    return case_id


def _second_record(
    planter: Planter,
    e: Enrolment,
    identity: str,
    kind: str,
    *,
    person: Person | None = None,
    stays_active: bool = False,
) -> Enrolment | None:
    """A new record of `e`'s person (an NID holder in a member programme) in a second
    programme, registered as `person` (default: the person as they are)."""
    if e.programme.assistance_unit != "1" or e.person.national_id is None:
        return None
    p = planter.second_programme(e, identity)
    if p is None:
        return None
    return planter.copy_into(e, p, person or e.person, kind, stays_active=stays_active)


def _split_order(planter: Planter, e: Enrolment, identity: str) -> bool:
    if e.sent_identifiers is not None:
        return False
    planted = _second_record(planter, e, identity, SPLIT_IDENTIFIER_ORDER)
    if planted is None:
        return False
    nid = e.person.national_id
    assert nid is not None
    uin = uin_for(nid)
    e.sent_identifiers = (("NID", nid), ("UIN", uin))
    planted.sent_identifiers = (("UIN", uin), ("NID", nid))
    orders = [["NID", "UIN"], ["UIN", "NID"]]
    _case(planter, SPLIT_IDENTIFIER_ORDER, e, identity, planted, uin=uin, identifier_orders=orders)
    planter.plant(planted)
    return True


def _formatted(planter: Planter, e: Enrolment, identity: str) -> bool:
    planted = _second_record(planter, e, identity, FORMATTED_IDENTIFIER)
    if planted is None:
        return False
    sent = formatted_value(identity, planter.rng.randrange(3))
    planted.sent_identifiers = (("NID", sent),)
    _case(planter, FORMATTED_IDENTIFIER, e, identity, planted, sent_value=sent)
    planter.plant(planted)
    return True


def _aliased(planter: Planter, e: Enrolment, identity: str) -> bool:
    planted = _second_record(planter, e, identity, ALIASED_IDENTIFIER_TYPE)
    if planted is None:
        return False
    alias = planter.rng.choice(planter.config.nid_type_aliases)
    planted.sent_identifiers = ((alias, identity),)
    _case(planter, ALIASED_IDENTIFIER_TYPE, e, identity, planted, sent_type=alias)
    planter.plant(planted)
    return True


def _conflicting(planter: Planter, e: Enrolment, identity: str) -> bool:
    person = e.person
    if planter.rng.random() < 0.5:
        conflict = "sex"
        other = dataclasses.replace(person, sex="female" if person.sex == "male" else "male")
    else:
        # Older, never younger: a later birth could fall after the enrolment date.
        conflict = "birth_year"
        born = dt.date.fromordinal(person.birth_ord)
        year = born.year - planter.rng.randint(10, 15)
        birth = dt.date(year, born.month, min(born.day, 28)).toordinal()
        other = dataclasses.replace(person, birth_ord=birth)
    planted = _second_record(planter, e, identity, CONFLICTING_DEMOGRAPHICS, person=other)
    if planted is None:
        return False
    _case(
        planter, CONFLICTING_DEMOGRAPHICS, e, identity, planted, conflict=conflict,
        true_sex=person.sex, true_birth_date=_iso(person.birth_ord),
        sent_sex=other.sex, sent_birth_date=_iso(other.birth_ord),
    )  # fmt: skip
    planter.plant(planted)
    return True


def _death_elsewhere(planter: Planter, e: Enrolment, identity: str) -> bool:
    if e.status.status != ACTIVE or e.person.death_ord is not None:
        return False
    planted = _second_record(planter, e, identity, DEATH_REPORTED_ELSEWHERE, stays_active=True)
    if planted is None:
        return False
    died = planter.follow_up_day()
    report = dataclasses.replace(
        planted,
        person=dataclasses.replace(planted.person, death_ord=died),
        history=[*planted.history, StatusChange(DECEASED, died, "death reported")],
        deliveries=[],
    )
    held = planter.held[identity]
    still_open = sorted(
        rid
        for rids in held.values()
        for rid in rids
        if planter.records[rid].status.status not in ENDED_STATUSES
    )
    case_id = _case(
        planter, DEATH_REPORTED_ELSEWHERE, e, identity, planted, reported_by=planted.record_id,
        death_date=_iso(died), open_elsewhere=still_open, updates=1,
    )  # fmt: skip
    planter.plant(planted)
    planter.follow_ups.append(FollowUp(case_id, 1, report, updated_ord=died))
    return True


def _area(e: Enrolment) -> dict[str, str]:
    loc = e.household.locality
    return {"region_code": loc.region_code, "sub_region_code": loc.district_code}


def _area_move(planter: Planter, e: Enrolment, identity: str) -> bool:
    if e.programme.assistance_unit != "1" or e.person.death_ord is not None:
        return False
    pools = pools_for(planter.config.country, planter.config.seed)
    here = e.household.locality
    elsewhere = [loc for loc in pools.localities if loc.district_code != here.district_code]
    moved_on = planter.follow_up_day()
    household = dataclasses.replace(
        e.household,
        locality=planter.rng.choice(elsewhere),
        street=f"{planter.rng.randrange(1, 400)} {planter.rng.choice(pools.streets)}",
    )
    moved = dataclasses.replace(e, household=household, deliveries=[])
    case_id = _case(
        planter, AREA_MOVE, e, identity, from_area=_area(e), to_area=_area(moved),
        moved_on=_iso(moved_on), updates=1,
    )  # fmt: skip
    planter.follow_ups.append(FollowUp(case_id, 1, moved, updated_ord=moved_on))
    return True


def _stale_update(planter: Planter, e: Enrolment, identity: str) -> bool:
    if e.status.status != ACTIVE or e.person.death_ord is not None:
        return False
    stale = planter.as_of + planter.rng.randrange(1, 30)
    exited = planter.follow_up_day(after=stale - planter.as_of)
    exit_change = StatusChange(EXITED, exited, "no longer eligible")
    stale_change = StatusChange(ACTIVE, stale, "reinstated after review")
    case_id = _case(
        planter, STALE_UPDATE, e, identity, exit_date=_iso(exited), stale_date=_iso(stale),
        final_status=EXITED, stale_status=ACTIVE, updates=2,
    )  # fmt: skip
    for step, change in enumerate((exit_change, stale_change), start=1):
        message = dataclasses.replace(e, history=[*e.history, change], deliveries=[])
        planter.follow_ups.append(FollowUp(case_id, step, message, updated_ord=change.date_ord))
    return True


def _benefit_fields(planter: Planter, e: Enrolment, delivery: Delivery) -> dict[str, Any]:
    benefit_id, benefit_date, period_start, period_end = delivery
    return {
        "benefit_id": None if benefit_id in e.unkeyed_benefits else benefit_id,
        "benefit_type": e.programme.benefit_type,
        "benefit_date": benefit_date,
        "period_start": period_start,
        "period_end": period_end,
        "amount": amount_for(e.programme, planter.config),
        "currency": planter.config.profile.currency,
    }


def _benefit_correction(planter: Planter, e: Enrolment, identity: str) -> bool:
    if not e.deliveries:
        return False
    delivery = planter.rng.choice(e.deliveries)
    keyed_by = "benefit_id" if planter.rng.random() < 0.5 else "period"
    if keyed_by == "period":
        e.unkeyed_benefits = e.unkeyed_benefits | {delivery[0]}
    fields = _benefit_fields(planter, e, delivery)
    corrected = str((Decimal(fields["amount"]) * Decimal("1.1")).quantize(Decimal("0.01")))
    corrected_on = planter.follow_up_day()
    case_id = _case(
        planter, BENEFIT_CORRECTION, e, identity, keyed_by=keyed_by, **fields,
        corrected_amount=corrected, updates=1,
    )  # fmt: skip
    message = dataclasses.replace(e, deliveries=[delivery])
    planter.follow_ups.append(
        FollowUp(case_id, 1, message, updated_ord=corrected_on, benefit_amount=corrected)
    )
    return True


def _benefit_reversal(planter: Planter, e: Enrolment, identity: str) -> bool:
    if not e.deliveries:
        return False
    delivery = planter.rng.choice(e.deliveries)
    payment_status = planter.rng.choice(("5", "4"))  # Returned, Cancelled
    reversed_on = planter.follow_up_day()
    case_id = _case(
        planter, BENEFIT_REVERSAL, e, identity, **_benefit_fields(planter, e, delivery),
        payment_status=payment_status, updates=1,
    )  # fmt: skip
    message = dataclasses.replace(e, deliveries=[delivery])
    planter.follow_ups.append(
        FollowUp(case_id, 1, message, updated_ord=reversed_on, payment_status=payment_status)
    )
    return True


PLANT: dict[str, Callable[[Planter, Enrolment, str], bool]] = {
    SPLIT_IDENTIFIER_ORDER: _split_order,
    FORMATTED_IDENTIFIER: _formatted,
    ALIASED_IDENTIFIER_TYPE: _aliased,
    CONFLICTING_DEMOGRAPHICS: _conflicting,
    DEATH_REPORTED_ELSEWHERE: _death_elsewhere,
    AREA_MOVE: _area_move,
    STALE_UPDATE: _stale_update,
    BENEFIT_CORRECTION: _benefit_correction,
    BENEFIT_REVERSAL: _benefit_reversal,
}
