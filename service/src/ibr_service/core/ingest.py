"""Turning canonical Beneficiary records into `EnrolmentUpdate`s, with per-item rejection.

One Beneficiary may carry several programme enrolments; each becomes one `EnrolmentUpdate`
carrying the source record of that programme's view of the subject. Subject keys here are
*provisional* (from the record's own best-ranked identifier): `ibr_service.core.linkage` links
them to stored subjects. A problem with an item raises `ItemRejectedError` carrying a DCI-style
reason code and the field, so the caller can reject that item and keep the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from ibr_service.core.caller import Caller
from ibr_service.core.dates import utc_date
from ibr_service.core.identity import IdentifierTypes, Normalised
from ibr_service.core.records import (
    AREA_LEVELS,
    BenefitRecord,
    EnrolmentRecord,
    EnrolmentUpdate,
    IdentifierRecord,
    JsonDict,
    ProgrammeRecord,
    SourceRecord,
    SubjectKind,
    SubjectRecord,
)
from ibr_service.core.rules import DECEASED, RuleViolationError, check_dates

__all__ = [
    "ItemRejectedError",
    "content_hash",
    "derived_subject_key",
    "rekey",
    "subject_key_for",
    "updates_from_beneficiary",
]

# Reason codes of spec/schemas/api/enrolment_update_reason_code.schema.json.
REASON_INVALID = "rjct.beneficiary.invalid"
REASON_NOT_ALLOWED = "rjct.programme.not_allowed"
REASON_DUPLICATE_REFERENCE = "rjct.reference_id.duplicate"


class ItemRejectedError(Exception):
    """One item of a batch cannot be applied; the others still are."""

    def __init__(self, message: str, *, field: str, reason: str = REASON_INVALID) -> None:
        self.message = message
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {message}")


_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def content_hash(value: Any) -> str:
    """SHA-256 of `value` as compact JSON with sorted keys (the idempotency fingerprint).

    Only this IBR compares these hashes (an identical re-send is `unchanged`), so they need a
    deterministic serialisation, not the interoperable RFC 8785 one that signatures need. orjson
    writes the bytes the stdlib writes (compact, sorted keys, UTF-8, `str()` of dates and of
    anything else that is not JSON) for every JSON document, several times faster; what it
    refuses (integers beyond 64 bits, non-string keys, lone surrogates) takes the stdlib's path.
    Small floats in exponent form are the one spelling that differs (`1e-05` / `1e-5`): such a
    document is `updated` once after the change, then `unchanged` again. (NaN and Infinity,
    which orjson would write as null, never reach the core: `ibr_protocol.input_limits` refuses
    them.)
    """
    try:
        data = orjson.dumps(value, default=str, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def subject_key_for(kind: SubjectKind, best: IdentifierRecord) -> str:
    """`p:<type>:<value>` / `g:<type>:<value>` of the best-ranked normalised identifier.

    Deterministic and independent of the order identifiers were sent in; the national ID leads
    (the distribution key of a sharded database, docs/storage-and-distribution.md).
    """
    return f"{kind[0]}:{best.identifier_type}:{best.identifier_value}"


def derived_subject_key(kind: SubjectKind, scheme: str, *parts: str) -> str:
    """`p:~<scheme>:<hash>`: the key of a subject no identifier decides.

    `~` cannot start an identifier type, so a derived key never collides with an
    identifier-based one. `scheme` says what the hash is over: `rec` (sender, programme,
    beneficiary_programme_id), `fp` (sender, programme, name and birth date), `hh` (the
    household's key and the member's fingerprint or position), `clash` (a source whose
    demographics clash with the subject its identifier names).
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind[0]}:~{scheme}:{digest[:40]}"


def enrolment_key_for(subject_key: str, programme: str, record_id: str | None) -> str:
    """One enrolment per programme record, so that double dipping stays two enrolments."""
    base = f"{subject_key}|{programme}"
    return base if record_id is None else f"{base}|{record_id}"


def source_key_for(sender_id: str, programme: str, record_id: str | None, subject_key: str) -> str:
    return f"{sender_id}|{programme}|{record_id if record_id is not None else '~' + subject_key}"


def benefit_key_for(raw: Mapping[str, Any], programme: str, beneficiary: str) -> str:
    """`benefit_id`, else a key of (programme, beneficiary, period, type): never the content."""
    benefit_id = _text(raw.get("benefit_id"))
    if benefit_id is not None:
        return benefit_id
    period = (_text(raw.get("period_start")), _text(raw.get("period_end")))
    if period == (None, None):
        period = (_text(raw.get("benefit_date")), None)
    parts = [programme, beneficiary, period[0] or "", period[1] or ""]
    parts.append(_text(raw.get("benefit_type")) or "")
    return "~" + content_hash(parts)[:40]


def updates_from_beneficiary(
    beneficiary: Mapping[str, Any],
    *,
    caller: Caller,
    now: datetime,
    identifier_types: IdentifierTypes,
    field: str,
    future_tolerance_days: int = 1,
) -> list[EnrolmentUpdate]:
    """The updates one Beneficiary stands for; raises ItemRejectedError for the whole item."""
    if not isinstance(beneficiary, Mapping):
        raise ItemRejectedError("beneficiary must be an object", field=field)
    unit = beneficiary.get("assistance_unit")
    if unit not in ("1", "2", "3"):
        raise ItemRejectedError(
            'assistance_unit must be "1" (member), "2" or "3" (group)',
            field=f"{field}.assistance_unit",
        )
    enrolments = beneficiary.get("programme_identifier")
    if not isinstance(enrolments, list) or not enrolments:
        raise ItemRejectedError(
            "at least one programme enrolment is needed", field=f"{field}.programme_identifier"
        )
    scope = _scope(caller.sender_id, enrolments)
    members: tuple[SubjectRecord, ...] = ()
    if unit == "1":
        subject = _person(beneficiary.get("member"), identifier_types, f"{field}.member", scope)
        where = f"{field}.member.demographic_info"
    else:
        subject, members = _group(
            beneficiary.get("group"), identifier_types, f"{field}.group", scope
        )
        where = f"{field}.group"
    updates = []
    for i, raw in enumerate(enrolments):
        at = f"{field}.programme_identifier[{i}]"
        update = _update(subject, members, raw, caller=caller, now=now, field=at)
        try:
            check_dates(
                birth=(f"{where}.birth_date", subject.birth_date),
                death=(f"{where}.death_date", subject.death_date),
                dated={
                    f"{at}.enrolment_date": update.enrolment.enrolment_date,
                    f"{at}.status_change_date": update.enrolment.status_change_date,
                },
                today=now.date(),
                tolerance_days=future_tolerance_days,
            )
        except RuleViolationError as exc:
            raise ItemRejectedError(exc.message, field=exc.field, reason=exc.reason) from None
        updates.append(update)
    return updates


def rekey(
    update: EnrolmentUpdate, subject_key: str, members: tuple[SubjectRecord, ...]
) -> EnrolmentUpdate:
    """The update as it applies to the subject `subject_key` (linkage decided it)."""
    old = update.subject.subject_key
    if old == subject_key and members is update.members:
        return update
    subject = replace(
        update.subject, subject_key=subject_key, member_keys=tuple(m.subject_key for m in members)
    )
    e = update.enrolment
    record_id = e.beneficiary_programme_id
    source_key = source_key_for(e.sender_id, e.programme_identifier, record_id, subject_key)
    enrolment = replace(
        e,
        subject_key=subject_key,
        enrolment_key=enrolment_key_for(subject_key, e.programme_identifier, record_id),
        source_key=source_key,
    )
    benefits = tuple(
        replace(
            b,
            subject_key=subject_key,
            enrolment_key=enrolment.enrolment_key,
            benefit_key=b.benefit_key
            if record_id is not None or not b.benefit_key.startswith("~")
            else benefit_key_for(b.document, e.programme_identifier, subject_key),
        )
        for b in update.benefits
    )
    source = None
    if update.source is not None:
        source = replace(update.source, source_key=source_key, subject=subject)
    return EnrolmentUpdate(subject, members, update.programme, enrolment, benefits, source)


def _update(
    subject: SubjectRecord,
    members: tuple[SubjectRecord, ...],
    raw: Any,
    *,
    caller: Caller,
    now: datetime,
    field: str,
) -> EnrolmentUpdate:
    if not isinstance(raw, Mapping):
        raise ItemRejectedError("programme enrolment must be an object", field=field)
    programme_doc = raw.get("programme")
    if not isinstance(programme_doc, Mapping):
        raise ItemRejectedError("programme is required", field=f"{field}.programme")
    programme_id = _text(programme_doc.get("programme_identifier"))
    if programme_id is None:
        raise ItemRejectedError(
            "programme_identifier is required", field=f"{field}.programme.programme_identifier"
        )
    if not caller.may_write_programme(programme_id):
        raise ItemRejectedError(
            "the sender may not publish enrolments for this programme",
            field=f"{field}.programme.programme_identifier",
            reason=REASON_NOT_ALLOWED,
        )
    status = _text(raw.get("enrolment_status"))
    if status is None:
        raise ItemRejectedError("enrolment_status is required", field=f"{field}.enrolment_status")
    enrolled_on = _date(raw.get("enrolment_date"), f"{field}.enrolment_date")
    changed_on = _date(raw.get("status_change_date"), f"{field}.status_change_date")
    record_id = _text(raw.get("beneficiary_programme_id"))
    key = subject.subject_key
    # The subject's and members' documents enter by their own hashes (computed once, when they
    # were read): serialising them again for every enrolment was most of this hash's cost.
    item_hash = content_hash(
        {
            "subject": subject.content_hash,
            "members": [m.content_hash for m in members],
            "enrolment": raw,
        }
    )
    source_key = source_key_for(caller.sender_id, programme_id, record_id, key)
    enrolment = EnrolmentRecord(
        enrolment_key=enrolment_key_for(key, programme_id, record_id),
        subject_key=key,
        programme_identifier=programme_id,
        enrolment_status=status,
        enrolment_date=enrolled_on,
        status_change_date=changed_on,
        status_reason=_text(raw.get("status_reason")),
        beneficiary_programme_id=record_id,
        sender_id=caller.sender_id,
        content_hash=item_hash,
        updated_at=now,
        event_date=changed_on or enrolled_on,
        source_key=source_key,
    )
    programme = ProgrammeRecord(
        programme_identifier=programme_id,
        programme_name=_text(programme_doc.get("programme_name")),
        document=dict(programme_doc),
    )
    benefits_raw = raw.get("benefits", [])
    if not isinstance(benefits_raw, list):
        raise ItemRejectedError("benefits must be a list", field=f"{field}.benefits")
    benefits = tuple(
        _benefit(b, enrolment, f"{field}.benefits[{j}]") for j, b in enumerate(benefits_raw)
    )
    facts = subject
    if status == DECEASED and subject.kind == "person" and subject.death_date is None:
        # A Deceased status is a death report; its date is the status change's (else today's,
        # the latest the death can have happened).
        facts = replace(subject, death_date=changed_on or now.date())
    dates = [d for d in (changed_on, enrolled_on, facts.last_updated) if d is not None]
    source = SourceRecord(
        source_key=source_key,
        subject=facts,
        sender_id=caller.sender_id,
        programme_identifier=programme_id,
        beneficiary_programme_id=record_id,
        event_date=max(dates) if dates else None,
        received_at=now,
    )
    return EnrolmentUpdate(facts, members, programme, enrolment, benefits, source)


def _benefit(raw: Any, enrolment: EnrolmentRecord, field: str) -> BenefitRecord:
    if not isinstance(raw, Mapping):
        raise ItemRejectedError("benefit must be an object", field=field)
    value = raw.get("benefit_value")
    amount = currency = None
    if isinstance(value, Mapping):
        amount = _money(value.get("amount"), f"{field}.benefit_value.amount")
        currency = _text(value.get("currency"))
    disbursement = raw.get("disbursement")
    payment = disbursement if isinstance(disbursement, Mapping) else {}
    credited = payment.get("credited_amount")
    credited_amount = (
        _money(credited.get("amount"), f"{field}.disbursement.credited_amount.amount")
        if isinstance(credited, Mapping)
        else None
    )
    beneficiary = enrolment.beneficiary_programme_id or enrolment.subject_key
    return BenefitRecord(
        enrolment_key=enrolment.enrolment_key,
        subject_key=enrolment.subject_key,
        benefit_key=benefit_key_for(raw, enrolment.programme_identifier, beneficiary),
        benefit_type=_text(raw.get("benefit_type")),
        benefit_date=_date(raw.get("benefit_date"), f"{field}.benefit_date"),
        amount=amount,
        currency=currency,
        period_start=_date(raw.get("period_start"), f"{field}.period_start"),
        period_end=_date(raw.get("period_end"), f"{field}.period_end"),
        document=dict(raw),
        programme_identifier=enrolment.programme_identifier,
        payment_status=_text(payment.get("payment_status")),
        disbursement_date=_date(payment.get("disbursement_date"), f"{field}.disbursement"),
        credited_amount=credited_amount,
    )


def _money(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ItemRejectedError("amount must be a decimal number", field=field)
    text = str(value).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ItemRejectedError("amount must be a decimal number", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise ItemRejectedError(
            "amount must be a finite number >= 0 (a reversal is a payment_status, not a "
            "negative amount)",
            field=field,
        )
    # The text tells the number of decimals without Decimal.as_tuple (a tenth of parsing).
    decimals = len(text.partition(".")[2]) if "e" not in text.lower() else 0
    if decimals > 4 or amount.adjusted() >= 16:
        raise ItemRejectedError("amount has more than 16 digits or 4 decimals", field=field)
    return amount


@dataclass(frozen=True, slots=True)
class _Scope:
    """What keys a subject without identifiers: the sender and its record of the beneficiary."""

    sender_id: str
    programme: str | None
    """programme_identifier of the item's first programme enrolment."""
    record: tuple[str, str] | None
    """(programme_identifier, beneficiary_programme_id) of the first enrolment naming both."""
    household_key: str | None = None
    """Set for the people of a group's member_list: their key is scoped by the household."""


def _scope(sender_id: str, enrolments: list[Any]) -> _Scope:
    first_programme: str | None = None
    record: tuple[str, str] | None = None
    for raw in enrolments:
        if not isinstance(raw, Mapping):
            continue
        programme = raw.get("programme")
        programme_id = (
            _text(programme.get("programme_identifier")) if isinstance(programme, Mapping) else None
        )
        first_programme = first_programme or programme_id
        record_id = _text(raw.get("beneficiary_programme_id"))
        if record is None and programme_id is not None and record_id is not None:
            record = (programme_id, record_id)
    return _Scope(sender_id, first_programme, record)


def _fingerprint(person: Mapping[str, Any], birth: date | None) -> str | None:
    """Normalised full name and birth date, or None when either is missing."""
    name = person.get("name")
    if not isinstance(name, Mapping) or birth is None:
        return None
    parts = [_text(name.get(p)) for p in ("given_name", "second_name", "surname")]
    words = " ".join(p for p in parts if p).casefold().split()
    return f"{' '.join(words)}|{birth.isoformat()}" if words else None


def _person(
    raw: Any,
    identifier_types: IdentifierTypes,
    field: str,
    scope: _Scope,
    *,
    position: int | None = None,
    taken: set[str] | None = None,
) -> SubjectRecord:
    if not isinstance(raw, Mapping):
        raise ItemRejectedError("member is required for assistance_unit 1", field=field)
    person = raw.get("demographic_info") if isinstance(raw.get("demographic_info"), Mapping) else {}
    assert isinstance(person, Mapping)
    normalised = _identifiers(
        [*_list(raw.get("member_identifier")), *_list(person.get("identifier"))],
        identifier_types,
        field=f"{field}.member_identifier",
    )
    identifiers = normalised.linkable
    name = person.get("name") if isinstance(person.get("name"), Mapping) else {}
    assert isinstance(name, Mapping)
    birth = _date(person.get("birth_date"), f"{field}.demographic_info.birth_date")
    if identifiers:
        key = subject_key_for("person", identifiers[0])
    else:
        key = _unidentified_person_key(scope, _fingerprint(person, birth), position, field)
        # Two ID-less members of one household with the same fingerprint stay two people.
        if taken is not None and key in taken:
            assert scope.household_key is not None
            key = derived_subject_key("person", "hh", scope.household_key, f"#{position}")
    if taken is not None:
        taken.add(key)
    doc: JsonDict = dict(raw)
    area_code, levels = _area(person.get("address"))
    updated = [
        _date(d.get("last_updated"), f"{field}.last_updated")
        for d in (raw, person)
        if isinstance(d.get("last_updated"), str)
    ]
    return SubjectRecord(
        subject_key=key,
        kind="person",
        identifiers=identifiers,
        identifier_checks=normalised.checks,
        document=doc,
        content_hash=content_hash(doc),
        given_name=_text(name.get("given_name")),
        surname=_text(name.get("surname")),
        sex=_text(person.get("sex")),
        birth_date=birth,
        death_date=_date(person.get("death_date"), f"{field}.demographic_info.death_date"),
        area_code=area_code,
        area_levels=levels,
        last_updated=max((d for d in updated if d is not None), default=None),
    )


def _area(address: Any) -> tuple[str | None, tuple[str | None, ...]]:
    """The most specific area code of the first address, and its codes by level as sent."""
    first = _list(address)[0] if _list(address) else None
    if not isinstance(first, Mapping):
        return None, (None,) * AREA_LEVELS
    region, district = _text(first.get("region_code")), _text(first.get("sub_region_code"))
    levels = (region, district, *(None,) * (AREA_LEVELS - 2))
    return district or region, levels


def _unidentified_person_key(
    scope: _Scope, fingerprint: str | None, position: int | None, field: str
) -> str:
    """The derived key of a person without identifiers (docs/storage-and-distribution.md)."""
    if scope.household_key is not None:
        return derived_subject_key(
            "person", "hh", scope.household_key, fingerprint or f"#{position}"
        )
    if scope.record is not None:
        return derived_subject_key("person", "rec", scope.sender_id, *scope.record)
    if fingerprint is not None and scope.programme is not None:
        return derived_subject_key("person", "fp", scope.sender_id, scope.programme, fingerprint)
    raise ItemRejectedError(
        "a member without member_identifier needs beneficiary_programme_id on its programme "
        "enrolment, or demographic_info with name and birth_date, to be told apart from others",
        field=f"{field}.member_identifier",
    )


def _group(
    raw: Any, identifier_types: IdentifierTypes, field: str, scope: _Scope
) -> tuple[SubjectRecord, tuple[SubjectRecord, ...]]:
    if not isinstance(raw, Mapping):
        raise ItemRejectedError("group is required for assistance_unit 2 and 3", field=field)
    normalised = _identifiers(
        _list(raw.get("group_identifier")), identifier_types, field=f"{field}.group_identifier"
    )
    identifiers = normalised.linkable
    if identifiers:
        group_key = subject_key_for("group", identifiers[0])
    elif scope.record is not None:
        group_key = derived_subject_key("group", "rec", scope.sender_id, *scope.record)
    else:
        raise ItemRejectedError(
            "a group without group_identifier needs beneficiary_programme_id on its programme "
            "enrolment to be told apart from others",
            field=f"{field}.group_identifier",
        )
    member_scope = _Scope(scope.sender_id, scope.programme, scope.record, household_key=group_key)
    taken: set[str] = set()
    members = [
        _person(
            member,
            identifier_types,
            f"{field}.member_list[{i}]",
            member_scope,
            position=i,
            taken=taken,
        )
        for i, member in enumerate(_list(raw.get("member_list")))
    ]
    score = raw.get("poverty_score")
    size = raw.get("group_size")
    doc: JsonDict = dict(raw)
    area_code, levels = _area(raw.get("address"))
    group = SubjectRecord(
        subject_key=group_key,
        kind="group",
        identifiers=identifiers,
        identifier_checks=normalised.checks,
        document=doc,
        content_hash=content_hash(doc),
        group_type=_text(raw.get("group_type")),
        group_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        poverty_score=float(score)
        if isinstance(score, (int, float)) and not isinstance(score, bool)
        else None,
        member_keys=tuple(m.subject_key for m in members),
        area_code=area_code,
        area_levels=levels,
        last_updated=_date(raw.get("last_updated"), f"{field}.last_updated"),
    )
    return group, tuple(members)


def _identifiers(raw: list[Any], identifier_types: IdentifierTypes, *, field: str) -> Normalised:
    """The record's identifiers normalised: the linkable ones ranked (best first)."""
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ItemRejectedError("identifier must be an object", field=f"{field}[{i}]")
        id_type, id_value = _text(item.get("identifier_type")), _text(item.get("identifier_value"))
        if id_type is None or id_value is None:
            raise ItemRejectedError(
                "identifier_type and identifier_value are required", field=f"{field}[{i}]"
            )
        pairs.append((id_type, id_value))
    return identifier_types.normalise(pairs)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if isinstance(value, str):  # first: nearly every value is one
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, (int, float)) else None


def _date(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    day = utc_date(value) if isinstance(value, str) else None
    if day is None:
        raise ItemRejectedError("not a date YYYY-MM-DD", field=field)
    return day
