"""Flat rows per entity, for CSV, JSONL and the PostgreSQL staging tables.

`enrolments` rows hold the identity *as the programme registered it* (a planted fuzzy duplicate
shows its altered name and missing or mistyped ID, a formatted or aliased one its first identifier
as sent); the true person is only in `persons` and in
the truth file, so detection cannot read the answer from the rows it is scored on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.enrolment import amount_for
from ibr_mock_data.generate import Block

__all__ = ["COLUMNS", "ENTITIES", "Row", "rows"]

Row = tuple[str | int | float | bool | None, ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    "households": (
        "household_id", "region_code", "region_name", "district_code", "district_name",
        "locality_code", "locality_name", "postal_code", "address_line_1", "poverty_score",
        "household_size", "head_person_id", "registration_date",
    ),
    "persons": (
        "person_id", "household_id", "relationship", "sex", "birth_date", "death_date",
        "given_name", "second_name", "surname", "national_id", "birth_registration", "phone",
        "is_disabled", "disability_type", "functional_severity", "marital_status",
        "employment_status",
    ),
    "programmes": (
        "programme_code", "programme_name", "programme_type", "benefit_type", "assistance_unit",
        "freq", "interval", "amount", "currency", "social_protection_functions",
        "contribution_type", "institution_type", "legal_status", "implementing_institution",
        "incompatible_with",
    ),
    "enrolments": (
        "record_id", "programme_code", "assistance_unit", "household_id", "identifier_type",
        "identifier_value", "given_name", "second_name", "surname", "sex", "birth_date",
        "enrolment_date", "enrolment_status", "status_change_date", "status_reason",
    ),
    "status_history": ("record_id", "seq", "enrolment_status", "status_date", "status_reason"),
    "benefits": (
        "benefit_id", "record_id", "programme_code", "benefit_type", "benefit_date",
        "period_start", "period_end", "amount", "currency", "benefit_quantity",
    ),
    "truth": (
        "case_id", "kind", "programmes", "records", "person_id", "identifier", "perturbations",
        "details",
    ),
}  # fmt: skip
ENTITIES = tuple(COLUMNS)

_date = dt.date.fromordinal


def _iso(ordinal: int | None) -> str | None:
    return None if ordinal is None else _date(ordinal).isoformat()


def programme_rows(config: GeneratorConfig) -> Iterator[Row]:
    for p in config.programmes:
        yield (
            p.code, p.name, p.programme_type, p.benefit_type, p.assistance_unit, p.freq,
            p.interval, amount_for(p, config), config.profile.currency,
            "|".join(p.social_protection_functions), p.contribution_type, p.institution_type,
            p.legal_status, p.implementing_institution, "|".join(p.incompatible_with),
        )  # fmt: skip


def rows(entity: str, block: Block, config: GeneratorConfig) -> Iterator[Row]:
    """The rows of `entity` in `block` (programmes belong to block 0 only)."""
    if entity == "households":
        for h in block.households:
            loc = h.locality
            yield (
                h.household_id, loc.region_code, loc.region_name, loc.district_code,
                loc.district_name, loc.locality_code, loc.locality_name, loc.postal_code,
                h.street, h.poverty_score, len(h.members), h.head.person_id,
                _iso(h.registration_ord),
            )  # fmt: skip
    elif entity == "persons":
        for h in block.households:
            for m in h.members:
                yield (
                    m.person_id, m.household_id, m.relationship, m.sex, _iso(m.birth_ord),
                    _iso(m.death_ord), m.given_name, m.second_name, m.surname, m.national_id,
                    m.birth_registration, m.phone, m.is_disabled, m.disability_type,
                    m.disability_severity, m.marital_status, m.employment_status,
                )  # fmt: skip
    elif entity == "programmes":
        if block.index == 0:
            yield from programme_rows(config)
    elif entity == "enrolments":
        for e in block.enrolments:
            household = e.programme.assistance_unit == "2"
            m = e.household.head if household else e.person
            id_type: str | None
            id_value: str | None
            if household:
                id_type, id_value = "HOUSEHOLD_ID", e.household.household_id
            elif e.sent_identifiers:
                id_type, id_value = e.sent_identifiers[0]
            elif m.national_id is not None:
                id_type, id_value = "NID", m.national_id
            elif m.birth_registration is not None:
                id_type, id_value = "BRN", m.birth_registration
            else:
                id_type = id_value = None
            status = e.history[-1]
            yield (
                e.record_id, e.programme.code, e.programme.assistance_unit,
                e.household.household_id if household else None, id_type, id_value,
                m.given_name, m.second_name, m.surname, m.sex, _iso(m.birth_ord),
                _iso(e.enrolment_ord), status.status, _iso(status.date_ord), status.reason,
            )  # fmt: skip
    elif entity == "status_history":
        for e in block.enrolments:
            for seq, change in enumerate(e.history, start=1):
                yield (e.record_id, seq, change.status, _iso(change.date_ord), change.reason)
    elif entity == "benefits":
        currency = config.profile.currency
        for e in block.enrolments:
            p = e.programme
            code, kind, amount, quantity = (
                p.code,
                p.benefit_type,
                amount_for(p, config),
                p.benefit_quantity,
            )
            record_id = e.record_id
            for benefit_id, date, start, end in e.deliveries:
                yield (benefit_id, record_id, code, kind, date, start, end, amount, currency,
                       quantity)  # fmt: skip
    elif entity == "truth":
        for c in block.truth:
            yield (
                c.case_id, c.kind, "|".join(c.programmes), "|".join(c.records), c.person_id,
                c.identifier, "|".join(c.perturbations),
                json.dumps(c.details, sort_keys=True) if c.details else None,
            )  # fmt: skip
    else:
        raise ValueError(f"entity {entity!r}: valid entities are {', '.join(ENTITIES)}")
