"""Turning canonical Beneficiary records into `EnrolmentUpdate`s, with per-item rejection.

One Beneficiary may carry several programme enrolments; each becomes one `EnrolmentUpdate`.
A problem with an item raises `ItemRejectedError` carrying a DCI-style reason code and the field, so
the caller can reject that item and keep the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ibr_service.core.caller import Caller
from ibr_service.core.records import (
    BenefitRecord,
    EnrolmentRecord,
    EnrolmentUpdate,
    IdentifierRecord,
    JsonDict,
    ProgrammeRecord,
    SubjectKind,
    SubjectRecord,
)

__all__ = [
    "ItemRejectedError",
    "content_hash",
    "derived_subject_key",
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


def content_hash(value: Any) -> str:
    """SHA-256 of `value` as compact JSON with sorted keys (the idempotency fingerprint).

    Only this IBR compares these hashes (an identical re-send is `unchanged`), so they need a
    deterministic serialisation, not the interoperable RFC 8785 one that signatures need; the
    stdlib's C encoder is about 30 times faster than the pure-Python JCS encoder, which was the
    largest cost of ingest.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def subject_key_for(
    kind: SubjectKind, identifiers: Iterable[IdentifierRecord], national_id_types: Iterable[str]
) -> str:
    """`p:<type>:<value>` / `g:<type>:<value>` of the national ID when present, else the first id.

    Deterministic, so that a batch can be merged set-wise without a lookup, and so that the
    national ID is the leading part of the key (the future distribution key).
    """
    ids = list(identifiers)
    preferred = {t.upper() for t in national_id_types}
    chosen = next((i for i in ids if i.identifier_type.upper() in preferred), ids[0])
    return f"{kind[0]}:{chosen.identifier_type}:{chosen.identifier_value}"


def derived_subject_key(kind: SubjectKind, scheme: str, *parts: str) -> str:
    """`p:~<scheme>:<hash>`: the key of a subject the sender gave no identifier for.

    `~` cannot start an identifier type (a code list of upper-case codes), so a derived key
    never collides with an identifier-based one. `scheme` says what the hash is taken over:
    `rec` (sender, programme, beneficiary_programme_id), `fp` (sender, programme, name and
    birth date), `hh` (the household's key and the member's fingerprint or position). The
    parts are hashed, not concatenated, so the key stays short and separator-safe.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind[0]}:~{scheme}:{digest[:40]}"


def updates_from_beneficiary(
    beneficiary: Mapping[str, Any],
    *,
    caller: Caller,
    now: datetime,
    national_id_types: Iterable[str],
    field: str,
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
        kind: SubjectKind = "person"
        subject = _person(beneficiary.get("member"), national_id_types, f"{field}.member", scope)
    else:
        kind = "group"
        subject, members = _group(
            beneficiary.get("group"), national_id_types, f"{field}.group", scope
        )
    updates = []
    for i, raw in enumerate(enrolments):
        where = f"{field}.programme_identifier[{i}]"
        updates.append(_update(subject, members, raw, kind, caller=caller, now=now, field=where))
    return updates


def _update(
    subject: SubjectRecord,
    members: tuple[SubjectRecord, ...],
    raw: Any,
    kind: SubjectKind,
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
            f"sender {caller.sender_id!r} may not publish enrolments for "
            f"programme {programme_id!r}",
            field=f"{field}.programme.programme_identifier",
            reason=REASON_NOT_ALLOWED,
        )
    status = _text(raw.get("enrolment_status"))
    if status is None:
        raise ItemRejectedError("enrolment_status is required", field=f"{field}.enrolment_status")
    enrolment_key = f"{subject.subject_key}|{programme_id}"
    item_hash = content_hash(
        {"subject": subject.document, "members": [m.document for m in members], "enrolment": raw}
    )
    enrolment = EnrolmentRecord(
        enrolment_key=enrolment_key,
        subject_key=subject.subject_key,
        programme_identifier=programme_id,
        enrolment_status=status,
        enrolment_date=_date(raw.get("enrolment_date"), f"{field}.enrolment_date"),
        status_change_date=_date(raw.get("status_change_date"), f"{field}.status_change_date"),
        status_reason=_text(raw.get("status_reason")),
        beneficiary_programme_id=_text(raw.get("beneficiary_programme_id")),
        sender_id=caller.sender_id,
        content_hash=item_hash,
        updated_at=now,
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
        _benefit(b, enrolment_key, subject.subject_key, f"{field}.benefits[{j}]")
        for j, b in enumerate(benefits_raw)
    )
    return EnrolmentUpdate(subject, members, programme, enrolment, benefits)


def _benefit(raw: Any, enrolment_key: str, subject_key: str, field: str) -> BenefitRecord:
    if not isinstance(raw, Mapping):
        raise ItemRejectedError("benefit must be an object", field=field)
    value = raw.get("benefit_value")
    amount = currency = None
    if isinstance(value, Mapping):
        amount, currency = _text(value.get("amount")), _text(value.get("currency"))
    return BenefitRecord(
        enrolment_key=enrolment_key,
        subject_key=subject_key,
        benefit_key=_text(raw.get("benefit_id")) or content_hash(dict(raw))[:40],
        benefit_type=_text(raw.get("benefit_type")),
        benefit_date=_date(raw.get("benefit_date"), f"{field}.benefit_date"),
        amount=amount,
        currency=currency,
        period_start=_date(raw.get("period_start"), f"{field}.period_start"),
        period_end=_date(raw.get("period_end"), f"{field}.period_end"),
        document=dict(raw),
    )


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
    national_id_types: Iterable[str],
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
    identifiers = _identifiers(
        [*_list(raw.get("member_identifier")), *_list(person.get("identifier"))],
        field=f"{field}.member_identifier",
    )
    name = person.get("name") if isinstance(person.get("name"), Mapping) else {}
    assert isinstance(name, Mapping)
    birth = _date(person.get("birth_date"), f"{field}.demographic_info.birth_date")
    if identifiers:
        key = subject_key_for("person", identifiers, national_id_types)
    else:
        key = _unidentified_person_key(scope, _fingerprint(person, birth), position, field)
        # Two ID-less members of one household with the same fingerprint stay two people.
        if taken is not None and key in taken:
            assert scope.household_key is not None
            key = derived_subject_key("person", "hh", scope.household_key, f"#{position}")
    if taken is not None:
        taken.add(key)
    doc: JsonDict = dict(raw)
    return SubjectRecord(
        subject_key=key,
        kind="person",
        identifiers=identifiers,
        document=doc,
        content_hash=content_hash(doc),
        given_name=_text(name.get("given_name")),
        surname=_text(name.get("surname")),
        sex=_text(person.get("sex")),
        birth_date=birth,
        death_date=_date(person.get("death_date"), f"{field}.demographic_info.death_date"),
    )


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
    raw: Any, national_id_types: Iterable[str], field: str, scope: _Scope
) -> tuple[SubjectRecord, tuple[SubjectRecord, ...]]:
    if not isinstance(raw, Mapping):
        raise ItemRejectedError("group is required for assistance_unit 2 and 3", field=field)
    identifiers = _identifiers(
        _list(raw.get("group_identifier")), field=f"{field}.group_identifier"
    )
    if identifiers:
        group_key = subject_key_for("group", identifiers, national_id_types)
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
            national_id_types,
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
    group = SubjectRecord(
        subject_key=group_key,
        kind="group",
        identifiers=identifiers,
        document=doc,
        content_hash=content_hash(doc),
        group_type=_text(raw.get("group_type")),
        group_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        poverty_score=float(score)
        if isinstance(score, (int, float)) and not isinstance(score, bool)
        else None,
        member_keys=tuple(m.subject_key for m in members),
    )
    return group, tuple(members)


def _identifiers(raw: list[Any], *, field: str) -> tuple[IdentifierRecord, ...]:
    seen: dict[tuple[str, str], IdentifierRecord] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ItemRejectedError("identifier must be an object", field=f"{field}[{i}]")
        id_type, id_value = _text(item.get("identifier_type")), _text(item.get("identifier_value"))
        if id_type is None or id_value is None:
            raise ItemRejectedError(
                "identifier_type and identifier_value are required", field=f"{field}[{i}]"
            )
        seen.setdefault((id_type, id_value), IdentifierRecord(id_type, id_value))
    return tuple(seen.values())


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def _date(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ItemRejectedError(f"{value!r} is not a date YYYY-MM-DD", field=field)
