"""The read processes: search (sync and async) and the enrolled check, item by item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from ibr_protocol import load_schema
from ibr_service.core.caller import Caller, ReadScope
from ibr_service.core.dates import utc_date
from ibr_service.core.errors import QueryError
from ibr_service.core.identity import normalise_query
from ibr_service.core.query import (
    And,
    Attribute,
    Comparison,
    Expr,
    Missing,
    Not,
    Operator,
    Or,
    parse_query,
    parse_sort,
)
from ibr_service.core.records import JsonDict, StoredBeneficiary, SubjectKind
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import StoreTransaction
from ibr_service.core.views import beneficiary_record

__all__ = [
    "REASON_ENROLLED_CRITERIA_INVALID",
    "REASON_PROGRAMME_UNKNOWN",
    "SearchOutcome",
    "enrolled_item",
    "search_item",
    "visible",
    "within",
]

REASON_PROGRAMME_UNKNOWN = "rjct.programme.unknown"
REASON_ENROLLED_CRITERIA_INVALID = "rjct.enrolled_criteria.invalid"
_NAMING = frozenset({Operator.EQ, Operator.NE, Operator.IN})
_MAX_NAMED = 80

_RECORD_KINDS: Mapping[str, SubjectKind | None] = {
    "member": "person",
    "person": "person",
    "group": "group",
    "household": "group",
    "beneficiary": None,
}


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """One search response item and the subject keys whose data it disclosed (for the audit)."""

    item: JsonDict
    disclosed: tuple[str, ...]


def search_item(
    tx: StoreTransaction,
    raw: Any,
    *,
    index: int,
    settings: CoreSettings,
    now_text: str,
    caller: Caller | None = None,
) -> SearchOutcome:
    """Answer one `search_request` item within the caller's read scope (IBR-SEARCH-006).

    A bad item, or one whose purpose the caller may not declare, gives `rjct` with its reason.
    """
    field = f"message.search_request[{index}]"
    reference_id = _reference_id(raw, index)
    read = caller.read if caller is not None else ReadScope()
    try:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("search_criteria"), Mapping):
            raise QueryError("search_criteria is required", field=f"{field}.search_criteria")
        criteria = raw["search_criteria"]
        where = f"{field}.search_criteria"
        _check_purpose(criteria, caller, settings, field=where)
        expr = normalise_query(
            parse_query(
                str(criteria.get("query_type", "")), criteria.get("query"), field=f"{where}.query"
            ),
            settings.identifier_types,
        )
        sort = parse_sort(criteria.get("sort"), field=f"{where}.sort")
        # pagination belongs in search_criteria; DCI samples also put it on the item
        pagination = criteria.get("pagination", raw.get("pagination"))
        page_size, page_number = _pagination(pagination, settings, field=f"{where}.pagination")
        kind = _record_kind(criteria.get("reg_record_type"), field=f"{where}.reg_record_type")
        as_of = _as_of(criteria.get("as_of"), field=f"{where}.as_of")
    except QueryError as exc:
        return SearchOutcome(_rejected(reference_id, now_text, exc), ())
    keys, total = tx.search_subjects(
        within(expr, read),
        kind=kind,
        sort=sort,
        offset=(page_number - 1) * page_size,
        limit=page_size,
        as_of=as_of,
    )
    records = [beneficiary_record(visible(b, read)) for b in tx.load_beneficiaries(keys)]
    item: JsonDict = {
        "reference_id": reference_id,
        "timestamp": now_text,
        "status": "succ",
        "data": {"version": "1.0.0", "reg_record_type": "Beneficiary", "reg_records": records},
        "pagination": {"page_size": page_size, "page_number": page_number, "total_count": total},
    }
    if isinstance(raw.get("locale"), str):
        item["locale"] = raw["locale"]
    return SearchOutcome(item, tuple(keys))


def enrolled_item(
    tx: StoreTransaction, raw: Any, *, index: int | None, settings: CoreSettings, now_text: str
) -> JsonDict:
    """Answer one enrolled check with `yes`/`no` only (data minimisation)."""
    field = "message.enrolled_criteria" + ("" if index is None else f"[{index}]")
    reference_id = _reference_id(raw, index or 0)
    try:
        if not isinstance(raw, Mapping):
            raise QueryError("enrolled_criteria must be an object", field=field)
        expr = normalise_query(
            _enrolled_query(raw.get("query_type"), raw.get("query"), field=f"{field}.query"),
            settings.identifier_types,
        )
        kind = _record_kind(raw.get("response_entity"), field=f"{field}.response_entity")
        _require_known_programmes(tx, expr, field=f"{field}.query")
    except QueryError as exc:
        item = _rejected(reference_id, now_text, exc, reason=_enrolled_reason(exc.reason))
        item["enrolled_status"] = "no"
        return item
    statuses = tuple(sorted(settings.enrolled_statuses))
    # A deceased person is enrolled nowhere, whatever each programme still says.
    enrolled = And(
        (
            expr,
            Comparison(Attribute.ENROLMENT_STATUS, Operator.IN, statuses),
            Missing(Attribute.DEATH_DATE),
        )
    )
    found = tx.subject_exists(enrolled, kind=kind)
    return {
        "reference_id": reference_id,
        "timestamp": now_text,
        "status": "succ",
        "enrolled_status": "yes" if found else "no",
    }


def _enrolled_query(query_type: Any, query: Any, *, field: str) -> Expr:
    # DCI samples omit query_type for the `{"attr": {"eq": v}}` form; it is an expression.
    return parse_query(str(query_type or "expression"), query, field=field)


def _require_known_programmes(tx: StoreTransaction, expr: Expr, *, field: str) -> None:
    """Reject a check whose programme filter names a programme the IBR has no enrolment in.

    Without this, a mistyped programme id is answered `no`, which reads as "not enrolled".
    The IBR knows a programme through the enrolments SP-MIS publish to it (any status).
    """
    for programme in _programmes_named(expr):
        known = Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, programme)
        if not tx.subject_exists(known, kind=None):
            raise QueryError(
                f"programme {programme[:_MAX_NAMED]!r} is not known to this IBR",
                field=field,
                reason=REASON_PROGRAMME_UNKNOWN,
            )


def _programmes_named(expr: Expr) -> list[str]:
    """The programme identifiers an `eq`/`ne`/`in` filter names, in query order, once each."""
    named: list[str] = []
    if isinstance(expr, Comparison):
        if expr.attribute is Attribute.PROGRAMME_IDENTIFIER and expr.operator in _NAMING:
            values = expr.value if isinstance(expr.value, tuple) else (expr.value,)
            named.extend(str(v) for v in values)
    elif isinstance(expr, And | Or):
        for item in expr.items:
            named.extend(_programmes_named(item))
    elif isinstance(expr, Not):
        named.extend(_programmes_named(expr.item))
    return list(dict.fromkeys(named))


def _enrolled_reason(reason: str) -> str:
    # Query parsing speaks search reason codes; an enrolled check answers with its own list
    # (api/enrolled_status_reason_code), where every criteria fault is one code.
    return reason if reason in _enrolled_reasons() else REASON_ENROLLED_CRITERIA_INVALID


@cache
def _enrolled_reasons() -> frozenset[str]:
    schema = load_schema("api/enrolled_status_reason_code")
    return frozenset(str(option["const"]) for option in schema["oneOf"])


def _record_kind(raw: Any, *, field: str) -> SubjectKind | None:
    if raw is None or raw == "":
        return None
    text = str(raw).rsplit(":", 1)[-1].strip().lower()
    if text not in _RECORD_KINDS:
        raise QueryError(
            f"{raw!s:.40} is not a record type; use Beneficiary, Member or Group",
            field=field,
            reason="rjct.search_criteria.invalid",
        )
    return _RECORD_KINDS[text]


def _pagination(raw: Any, settings: CoreSettings, *, field: str) -> tuple[int, int]:
    if raw is None:
        return settings.default_page_size, 1
    if not isinstance(raw, Mapping):
        raise QueryError(
            "pagination must be an object", field=field, reason="rjct.pagination.invalid"
        )
    size = raw.get("page_size", settings.default_page_size)
    number = raw.get("page_number", 1)
    for name, value in (("page_size", size), ("page_number", number)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise QueryError(
                f"{name} must be an integer",
                field=f"{field}.{name}",
                reason="rjct.pagination.invalid",
            )
    if not 1 <= int(size) <= settings.max_page_size:
        raise QueryError(
            f"page_size must be between 1 and {settings.max_page_size}",
            field=f"{field}.page_size",
            reason="rjct.pagination.invalid",
        )
    if int(number) < 1:
        raise QueryError(
            "page_number starts at 1",
            field=f"{field}.page_number",
            reason="rjct.pagination.invalid",
        )
    return int(size), int(number)


def _reference_id(raw: Any, index: int) -> str:
    if (
        isinstance(raw, Mapping)
        and isinstance(raw.get("reference_id"), str)
        and raw["reference_id"]
    ):
        return str(raw["reference_id"])
    return str(index + 1)


def _rejected(
    reference_id: str, now_text: str, exc: QueryError, *, reason: str | None = None
) -> JsonDict:
    where = f"{exc.field}: " if exc.field else ""
    return {
        "reference_id": reference_id,
        "timestamp": now_text,
        "status": "rjct",
        "status_reason_code": reason or exc.reason,
        "status_reason_message": f"{where}{exc.message}"[:999],
    }


def within(expr: Expr, read: ReadScope) -> Expr:
    """`expr` limited to what `read` may see: a matching enrolment in a visible programme, of a
    subject in a visible area (conditions on one enrolment hold for the same row)."""
    parts: list[Expr] = []
    if read.programmes is not None:
        programmes = tuple(sorted(read.programmes))
        parts.append(Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.IN, programmes))
    if read.areas is not None:
        parts.append(Comparison(Attribute.AREA_CODE, Operator.IN, tuple(sorted(read.areas))))
    return And((expr, *parts)) if parts else expr


def visible(stored: StoredBeneficiary, read: ReadScope) -> StoredBeneficiary:
    """The beneficiary with only the enrolments (and their benefits) `read` may see."""
    if read.programmes is None:
        return stored
    return StoredBeneficiary(
        stored.subject,
        tuple(e for e in stored.enrolments if read.sees_programme(e[0].programme_identifier)),
    )


def _check_purpose(
    criteria: Mapping[str, Any], caller: Caller | None, settings: CoreSettings, *, field: str
) -> None:
    """Refuse a purpose the caller may not declare, or a missing consent where it is required."""
    consent = criteria.get("consent")
    if settings.require_consent and not isinstance(consent, Mapping):
        raise QueryError(
            "consent is required by this IBR for searches about people", field=f"{field}.consent"
        )
    if caller is None or caller.purposes is None:
        return
    declared = {
        str(purpose.get(key))
        for holder in (consent, criteria.get("authorize"))
        if isinstance(holder, Mapping) and isinstance(purpose := holder.get("purpose"), Mapping)
        for key in ("code", "text")
        if isinstance(purpose.get(key), str)
    }
    if not declared & caller.purposes:
        raise QueryError(
            "the declared purpose (consent or authorize .purpose.code) is not one this client "
            "is registered for",
            field=f"{field}.consent.purpose",
        )


def _as_of(raw: Any, *, field: str) -> date | None:
    if raw is None:
        return None
    day = utc_date(raw) if isinstance(raw, str) else None
    if day is None:
        raise QueryError("as_of must be a date YYYY-MM-DD", field=field)
    return day
