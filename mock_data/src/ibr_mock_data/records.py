"""Canonical wire form (spec/CONVENTIONS.md) of programmes and beneficiary records.

This is the only module that knows the JSON field names of the data elements.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ibr_mock_data.config import GeneratorConfig, ProgrammeSpec
from ibr_mock_data.enrolment import Enrolment, amount_for
from ibr_mock_data.population import Household, Person

__all__ = ["beneficiary_record", "member_record", "programme_record"]

JsonDict = dict[str, Any]


def _date(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def _instant(ordinal: int) -> str:
    return f"{_date(ordinal)}T09:00:00Z"


def programme_record(p: ProgrammeSpec) -> JsonDict:
    frequency: JsonDict = {"freq": p.freq}
    if p.freq != "ONCE" and p.interval != 1:
        frequency["interval"] = p.interval
    frequency["dtstart"] = p.start_date.isoformat()
    return {
        "programme_identifier": p.code,
        "programme_name": p.name,
        "programme_description": p.description,
        "implementing_institution": p.implementing_institution,
        "institution_type": p.institution_type,
        "legal_status": p.legal_status,
        "social_protection_functions": list(p.social_protection_functions),
        "contribution_type": p.contribution_type,
        "programme_type": p.programme_type,
        "benefit_frequency": frequency,
    }


def _identifiers(person: Person, sent: tuple[tuple[str, str], ...] | None) -> list[JsonDict]:
    if sent is not None:
        return [{"identifier_type": kind, "identifier_value": value} for kind, value in sent]
    out = []
    if person.national_id is not None:
        out.append({"identifier_type": "NID", "identifier_value": person.national_id})
    if person.birth_registration is not None:
        out.append({"identifier_type": "BRN", "identifier_value": person.birth_registration})
    return out


def _address(household: Household, country: str) -> JsonDict:
    loc = household.locality
    return {
        "address_line_1": household.street,
        "locality": loc.locality_name,
        "sub_region_code": loc.district_code,
        "region_code": loc.region_code,
        "postal_code": loc.postal_code,
        "country_code": country,
    }


def member_record(
    person: Person,
    household: Household,
    config: GeneratorConfig,
    updated_ord: int,
    identifiers_sent: tuple[tuple[str, str], ...] | None = None,
) -> JsonDict:
    """One member (a person and their social data) in canonical form.

    `identifiers_sent` replaces the person's own identifiers (a planted order, format or alias).
    """
    identifiers = _identifiers(person, identifiers_sent)
    name: JsonDict = {"given_name": person.given_name, "surname": person.surname}
    if person.second_name is not None:
        name["second_name"] = person.second_name
    demographic: JsonDict = {}
    if identifiers:
        demographic["identifier"] = identifiers
    demographic["name"] = name
    demographic["sex"] = person.sex
    demographic["birth_date"] = _date(person.birth_ord)
    if person.death_ord is not None:
        demographic["death_date"] = _date(person.death_ord)
    demographic["address"] = [_address(household, config.country)]
    if person.phone is not None:
        demographic["phone_number"] = [person.phone]
    member: JsonDict = {}
    if identifiers:
        member["member_identifier"] = identifiers
    member["demographic_info"] = demographic
    member["is_disabled"] = person.is_disabled
    if person.disability_type is not None and person.disability_severity is not None:
        member["disability_info"] = [
            {
                "disability_limitation_type": person.disability_type,
                "functional_severity": person.disability_severity,
            }
        ]
    if person.marital_status is not None:
        member["marital_status"] = person.marital_status
    if person.employment_status is not None:
        member["employment_status"] = person.employment_status
    member["language_code"] = [config.profile.language_code]
    member["registration_date"] = _instant(person.registration_ord)
    member["last_updated"] = _instant(max(updated_ord, person.registration_ord))
    return member


def _benefits(
    e: Enrolment, config: GeneratorConfig, amount: str | None, payment_status: str | None
) -> list[JsonDict]:
    p = e.programme
    value = {"amount": amount or amount_for(p, config), "currency": config.profile.currency}
    out = []
    for benefit_id, benefit_date, period_start, period_end in e.deliveries:
        benefit: JsonDict = {} if benefit_id in e.unkeyed_benefits else {"benefit_id": benefit_id}
        benefit["benefit_type"] = p.benefit_type
        benefit["benefit_date"] = benefit_date
        benefit["benefit_value"] = value
        if p.benefit_description is not None:
            benefit["benefit_description"] = p.benefit_description
        if p.benefit_quantity is not None:
            benefit["benefit_quantity"] = p.benefit_quantity
        benefit["period_start"] = period_start
        benefit["period_end"] = period_end
        if payment_status is not None:
            benefit["disbursement"] = {
                "disbursement_date": benefit_date,
                "amount": value,
                "payment_status": payment_status,
            }
        out.append(benefit)
    return out


def beneficiary_record(
    e: Enrolment,
    config: GeneratorConfig,
    programme: JsonDict | None = None,
    *,
    updated_ord: int | None = None,
    benefit_amount: str | None = None,
    payment_status: str | None = None,
) -> JsonDict:
    """The canonical Beneficiary of one programme record, with its enrolment and benefits.

    Pass `programme` (from `programme_record`) to share one dict across records. A follow-up
    message passes its `last_updated` day (`updated_ord`, default: the status change date) and,
    for a benefit it corrects or reverses, the new amount and the disbursement's payment status.
    """
    status = e.status
    updated = status.date_ord if updated_ord is None else updated_ord
    enrolment: JsonDict = {
        "programme": programme if programme is not None else programme_record(e.programme),
        "enrolment_date": _date(e.enrolment_ord),
        "enrolment_status": status.status,
        "status_change_date": _date(status.date_ord),
        "status_reason": status.reason,
    }
    benefits = _benefits(e, config, benefit_amount, payment_status)
    if benefits:
        enrolment["benefits"] = benefits
    enrolment["beneficiary_programme_id"] = e.record_id
    if e.programme.assistance_unit == "1":
        return {
            "assistance_unit": "1",
            "member": member_record(e.person, e.household, config, updated, e.sent_identifiers),
            "programme_identifier": [enrolment],
        }
    household = e.household
    members = [member_record(m, household, config, updated) for m in household.members]
    group: JsonDict = {
        "group_identifier": [
            {"identifier_type": "HOUSEHOLD_ID", "identifier_value": household.household_id}
        ],
        "group_type": "2",
        "address": [_address(household, config.country)],
        "poverty_score": household.poverty_score,
        "poverty_score_type": "PMT",
        "group_head_info": members[0],
        "group_size": len(members),
        "member_list": members,
        "registration_date": _instant(household.registration_ord),
        "last_updated": _instant(max(updated, household.registration_ord)),
    }
    return {"assistance_unit": "2", "group": group, "programme_identifier": [enrolment]}
