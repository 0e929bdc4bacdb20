"""One beneficiary of an enrolment-updates batch: to the canonical form, then held to the spec.

The host validates only the skeleton of the batch (header, message shape, list size); each item
comes here, so that one item that breaks a rule is rejected alone and the others are kept
("one bad item never loses the good ones"). An item that already meets
`messages/enrolment_update_item` is canonical (normalising it would change nothing), so the
fast path is a single compiled-schema check; only a failing item is normalised from its DCI
variant spelling and checked again, and only a still-failing one pays for worded errors.
"""

from __future__ import annotations

from typing import Any

from ibr_protocol import NormalisationError, SchemaValidationError, normalise_record
from ibr_protocol.errors import SchemaErrorDetail
from ibr_protocol.validation import is_valid, validate
from ibr_service.core.ingest import REASON_INVALID, ItemRejectedError

__all__ = ["ITEM_SCHEMA", "canonical_item"]

ITEM_SCHEMA = "messages/enrolment_update_item"


def canonical_item(raw: Any, *, field: str) -> dict[str, Any]:
    """The canonical, schema-valid form of one batch item; raises ItemRejectedError otherwise.

    `field` is where the item sits in the message (e.g.
    `message.enrolled_updates.beneficiaries[3]`); the rejection names the offending field below
    it and the rule it breaks.
    """
    if not isinstance(raw, dict):
        raise ItemRejectedError(
            f"must be an object (a Beneficiary), got {type(raw).__name__}",
            field=field,
            reason=REASON_INVALID,
        )
    if is_valid(raw, ITEM_SCHEMA):
        return raw
    try:
        item = normalise_record("beneficiary", raw)
    except NormalisationError as exc:
        # The protocol's message quotes the value it could not map; an answer names the rule.
        rule = f"rule {exc.rule}" if exc.rule else "normalisation"
        raise ItemRejectedError(
            f"has no canonical form ({rule})", field=_below(field, exc.field), reason=REASON_INVALID
        ) from exc
    try:
        validate(item, ITEM_SCHEMA)
    except SchemaValidationError as exc:
        first = exc.errors[0]
        raise ItemRejectedError(
            _wording(first), field=_below(field, first.path), reason=REASON_INVALID
        ) from exc
    return item


def _wording(error: SchemaErrorDetail) -> str:
    """The rule broken, never the value (IBR-ERR-003: an answer must not echo personal data).

    Names of missing or unexpected properties come from the schema or the keys; for oneOf and
    anyOf the closest branch's rule is named too.
    """
    rule = error.keyword
    if error.keyword in ("required", "additionalProperties"):
        names = error.message.split("'")[1::2]
        rule += f" ({', '.join(name[:40] for name in names[:5])})" if names else ""
    inner = error.context[0] if error.context else None
    hint = f"; closest rule: {inner.keyword} at {inner.path}" if inner is not None else ""
    return f"breaks rule {rule} of {ITEM_SCHEMA}{hint}"


def _below(field: str, path: str | None) -> str:
    """`field` + the JSON path inside the item (`$.member.sex` -> `<field>.member.sex`)."""
    if not path or path == "$":
        return field
    return field + path[1:] if path.startswith("$") else f"{field}.{path}"
