"""DCI-variant messages to the canonical form (the compatibility profile).

The rules are data in `spec/compat/dci-1.0.0.yaml`: field rules are driven by its tables
(renames, field kinds, code lists); structural rules are one function each, named after the
rule id. Nothing here mutates its input; every rule applied is reported with its JSON path.

    result = normalise_envelope_report(raw)   # .value, .applied, .schema
    canonical = normalise_envelope(raw)       # just the value
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ibr_protocol.codes import code_for, code_list
from ibr_protocol.dci_signature import is_placeholder_signature
from ibr_protocol.dci_wire import (
    infer_enrolled_query_type,
    map_age_queries,
    map_subscribe_criteria,
)
from ibr_protocol.envelope import envelope_schema, is_encrypted_message
from ibr_protocol.errors import NormalisationError
from ibr_protocol.spec import read_yaml, spec_dir

UnmappedCodes = Literal["attribute", "reject"]

_DMY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]")
_CANONICAL_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)
_MONEY = re.compile(
    r"^\s*(?:(?P<c1>[A-Za-z]{3})\s*(?P<a1>-?\d+(?:\.\d+)?)|(?P<a2>-?\d+(?:\.\d+)?)\s*(?P<c2>[A-Za-z]{3}))\s*$"
)
_NUMBER = re.compile(r"^\s*-?\d+\s*$")
# Values under these keys are implementer-defined: never rewritten.
_OPAQUE = frozenset({"@context", "meta", "value", "attribute_value"})
# A query operand "" is a value to compare with, not a DCI placeholder for "absent".
_EMPTY_IS_DATA = frozenset({"attribute_value"})


@dataclass(frozen=True)
class AppliedRule:
    """One rule applied at one place."""

    rule: str
    path: str
    detail: str = ""


@dataclass
class Normalised:
    """A canonical copy, the rules applied to get it, and the schema it should now meet."""

    value: dict[str, Any]
    applied: list[AppliedRule] = field(default_factory=list)
    schema: str | None = None


@dataclass(frozen=True)
class CompatProfile:
    """The tables of `spec/compat/dci-1.0.0.yaml`."""

    rule_ids: frozenset[str]
    renames: dict[str, str]
    dropped_fields: frozenset[str]
    integer_fields: frozenset[str]
    boolean_fields: frozenset[str]
    object_list_fields: frozenset[str]
    scalar_list_fields: frozenset[str]
    code_fields: dict[str, str]
    optional_code_fields: frozenset[str]
    language_639_1: dict[str, str]
    date_fields: frozenset[str]
    date_time_fields: frozenset[str]
    money_fields: frozenset[str]
    frequency_words: dict[str, str]
    action_aliases: dict[str, str]
    callback_actions: dict[str, str]
    query_attribute_aliases: dict[str, str]
    prefixed_enum_fields: frozenset[str]
    locale_fields: frozenset[str]
    default_zone: str


_TXN_RESULT_LISTS = ("search_response", "subscribe_response", "enrolled_response")
"""The result list of a txn_status, by txn_type (C-TXN-STATUS-EMPTY)."""

_PERSON_RECORD_TYPES = frozenset({"person", "individual", "member"})
"""DCI's spellings of a person's record type; our code is Member (C-NOTIFY-RECORD-TYPE)."""


@cache
def _profile(path: Path) -> CompatProfile:
    data: dict[str, Any] = read_yaml(path)
    return CompatProfile(
        rule_ids=frozenset(rule["id"] for rule in data["rules"]),
        renames=dict(data["renames"]),
        dropped_fields=frozenset(data["dropped_fields"]),
        integer_fields=frozenset(data["integer_fields"]),
        boolean_fields=frozenset(data["boolean_fields"]),
        object_list_fields=frozenset(data["object_list_fields"]),
        scalar_list_fields=frozenset(data["scalar_list_fields"]),
        code_fields=dict(data["code_fields"]),
        optional_code_fields=frozenset(data["optional_code_fields"]),
        language_639_1=dict(data["language_639_1"]),
        date_fields=frozenset(data["date_fields"]),
        date_time_fields=frozenset(data["date_time_fields"]),
        money_fields=frozenset(data["money_fields"]),
        frequency_words={k.casefold(): v for k, v in data["frequency_words"].items()},
        action_aliases=dict(data["action_aliases"]),
        callback_actions=dict(data["callback_actions"]),
        query_attribute_aliases=dict(data["query_attribute_aliases"]),
        prefixed_enum_fields=frozenset(data["prefixed_enum_fields"]),
        locale_fields=frozenset(data["locale_fields"]),
        default_zone=str(data.get("default_zone", "UTC")),
    )


def compat_profile() -> CompatProfile:
    """The compatibility profile of the current spec directory."""
    return _profile(spec_dir() / "compat" / "dci-1.0.0.yaml")


class _Run:
    """One normalisation: the profile, the options, and the log of rules applied."""

    def __init__(self, *, unmapped_codes: UnmappedCodes, zone: str | None) -> None:
        self.profile = compat_profile()
        self.unmapped_codes = unmapped_codes
        self.zone = ZoneInfo(zone or self.profile.default_zone)
        self.today = datetime.now(self.zone).date()  # "age" is counted on the receiver's clock
        self.applied: list[AppliedRule] = []

    def log(self, rule: str, path: str, detail: str = "") -> None:
        self.applied.append(AppliedRule(rule, path, detail))

    # -- field rules, driven by the tables -------------------------------------------------

    def walk(self, value: Any, path: str) -> Any:
        if isinstance(value, list):
            return [self.walk(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        value = self.restructure(value, path)
        out: dict[str, Any] = {}
        for raw_key, raw in value.items():
            key = self.rename(raw_key, value, path)
            where = f"{path}.{key}"
            if raw is None or (raw == "" and key not in _EMPTY_IS_DATA):
                self.log("C-EMPTY", where)
                continue
            if key in self.profile.dropped_fields:
                self.log("C-DROP", where)
                continue
            if key in _OPAQUE:
                out[key] = raw
                continue
            converted = self.convert(key, raw, where, out)
            if converted is _REMOVED:
                continue
            walked = self.walk(converted, where)
            if key == "additional_attributes" and isinstance(out.get(key), list):
                walked = [*walked, *out[key]]  # C-CODE-UNMAPPED added some already
            out[key] = walked
        return out

    def rename(self, key: str, parent: Mapping[str, Any], path: str) -> str:
        canonical = self.profile.renames.get(key)
        if canonical is None:
            return key
        if canonical in parent and parent[canonical] not in ("", None, parent[key]):
            raise NormalisationError(
                f"both {key!r} and {canonical!r} are present with different values",
                field=f"{path}.{canonical}",
                rule="C-RENAME",
            )
        self.log("C-RENAME", f"{path}.{canonical}", f"from {key}")
        return canonical

    def convert(self, key: str, raw: Any, where: str, parent: dict[str, Any]) -> Any:
        p = self.profile
        if key in p.integer_fields:
            return self.integer(raw, where)
        if key in p.boolean_fields:
            return self.boolean(raw, where)
        if key == "additional_attributes":
            return self.attributes(raw, where)
        if key == "benefit_frequency":
            return self.frequency(raw, where)
        if key in p.money_fields and isinstance(raw, str) and _MONEY.match(raw):
            return self.money(raw, where)
        if key in p.object_list_fields and isinstance(raw, dict):
            self.log("C-LIST", where)
            return [raw]
        if key in p.scalar_list_fields and isinstance(raw, str):
            self.log("C-LIST", where)
            raw = [raw]
        if key == "language_code":
            return self.languages(raw, where)
        if key in p.locale_fields and isinstance(raw, str):
            return self.languages([raw], where)[0]
        if key in p.prefixed_enum_fields and isinstance(raw, str) and ":" in raw:
            value = raw.rsplit(":", 1)[1]
            self.log("C-PREFIXED-ENUM", where, f"{raw} -> {value}")
            return value
        if key in p.code_fields:
            return self.code(key, raw, where, parent)
        if key in p.date_fields and isinstance(raw, str):
            return self.date(raw, where)
        if key in p.date_time_fields and isinstance(raw, str):
            return self.date_time(raw, where)
        return raw

    def integer(self, raw: Any, where: str) -> Any:
        if isinstance(raw, str) and _NUMBER.match(raw):
            self.log("C-INTEGER", where)
            return int(raw)
        if isinstance(raw, float) and raw.is_integer():
            self.log("C-INTEGER", where)
            return int(raw)
        return raw

    def boolean(self, raw: Any, where: str) -> Any:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().casefold()
        if text in ("1", "true"):
            self.log("C-BOOLEAN", where)
            return True
        if text in ("0", "false"):
            self.log("C-BOOLEAN", where)
            return False
        return raw

    def attributes(self, raw: Any, where: str) -> Any:
        items = raw if isinstance(raw, list) else [raw]
        out: list[Any] = []
        for item in items:
            if isinstance(item, dict) and set(item) <= {
                "name",
                "value",
                "@context",
                "@type",
                "@id",
            }:
                out.append(item)
            elif isinstance(item, dict):
                self.log("C-ATTRIBUTES", where)
                out.extend({"name": k, "value": v} for k, v in item.items() if v not in ("", None))
            elif isinstance(item, str):
                self.log("C-ATTRIBUTES", where)
                out.append({"name": item, "value": True})
            else:
                out.append(item)
        return out

    def frequency(self, raw: Any, where: str) -> Any:
        if isinstance(raw, list):
            if len(raw) != 1:
                raise NormalisationError(
                    f"{len(raw)} benefit frequencies given; one is expected",
                    field=where,
                    rule="C-FREQUENCY",
                )
            self.log("C-FREQUENCY", where, "one-item list")
            raw = raw[0]
        if isinstance(raw, str):
            word = self.profile.frequency_words.get(raw.strip().casefold())
            freq = word or code_list("frequency").lookup(raw)
            if freq is None:
                raise NormalisationError(
                    f"{raw!r} is not a frequency; use one of "
                    f"{', '.join(sorted(set(self.profile.frequency_words.values())))}",
                    field=where,
                    rule="C-FREQUENCY",
                )
            self.log("C-FREQUENCY", where, f"{raw} -> {freq}")
            return {"freq": freq}
        return raw

    def money(self, raw: str, where: str) -> dict[str, str]:
        match = _MONEY.match(raw)
        assert match is not None  # checked by the caller
        amount = match.group("a1") or match.group("a2")
        currency = (match.group("c1") or match.group("c2")).upper()
        self.log("C-MONEY", where, raw)
        return {"amount": amount, "currency": currency}

    def languages(self, raw: Any, where: str) -> Any:
        if not isinstance(raw, list):
            return raw
        out = []
        for item in raw:
            if isinstance(item, str):
                text = item.strip().lower()
                text = self.profile.language_639_1.get(text, text)
                if text != item:
                    self.log("C-LANGUAGE", where, f"{item} -> {text}")
                out.append(text)
            else:
                out.append(item)
        return out

    def code(self, key: str, raw: Any, where: str, parent: dict[str, Any]) -> Any:
        list_name = self.profile.code_fields[key]
        if isinstance(raw, list):
            return [self.one_code(list_name, item, f"{where}[{i}]") for i, item in enumerate(raw)]
        if not isinstance(raw, str):
            return raw
        try:
            return self.one_code(list_name, raw, where)
        except NormalisationError:
            if self.unmapped_codes == "reject" or key not in self.profile.optional_code_fields:
                raise
        self.log("C-CODE-UNMAPPED", where, f"{raw!r} kept as additional_attributes")
        attributes = parent.setdefault("additional_attributes", [])
        attributes.append({"name": key, "value": raw})
        return _REMOVED

    def one_code(self, list_name: str, raw: Any, where: str) -> Any:
        if not isinstance(raw, str):
            return raw
        code = code_for(list_name, raw, field=where)
        if code != raw:
            self.log("C-CODE", where, f"{raw} -> {code}")
        return code

    def date(self, raw: str, where: str) -> str:
        if _ISO_DATE.match(raw):
            return raw
        dmy = _DMY.match(raw)
        if dmy:
            day, month, year = dmy.groups()
            text = f"{year}-{int(month):02d}-{int(day):02d}"
        elif prefix := _DATE_PREFIX.match(raw):
            text = prefix.group(1)
        else:
            return raw
        self.log("C-DATE", where, f"{raw} -> {text}")
        return text

    def date_time(self, raw: str, where: str) -> str:
        if _CANONICAL_DATE_TIME.match(raw):
            return raw
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return raw
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.zone)
        text = parsed.isoformat(timespec="seconds" if not parsed.microsecond else "milliseconds")
        text = text.replace("+00:00", "Z")
        self.log("C-DATETIME", where, f"{raw} -> {text}")
        return text

    # -- structural rules, one function per rule id ----------------------------------------

    def restructure(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        value = self.c_person_wrap(value, path)
        value = self.c_enrolment_place(value, path)
        value = self.c_query_attribute(value, path)
        value = self.c_pagination_place(value, path)
        value = infer_enrolled_query_type(value, path, self.log)
        value = self.c_query_map(value, path)
        return value

    def c_pagination_place(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        criteria = value.get("search_criteria")
        if "pagination" in value and isinstance(criteria, dict) and "pagination" not in criteria:
            self.log("C-PAGINATION-PLACE", f"{path}.pagination")
            moved = {k: v for k, v in value.items() if k != "pagination"}
            moved["search_criteria"] = {**criteria, "pagination": value["pagination"]}
            return moved
        return value

    def c_query_map(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        query = value.get("query")
        if (
            ".enrolled_criteria" not in path
            or value.get("query_type") != "expression"
            or not isinstance(query, dict)
            or not query
            or "attribute_name" in query
            or not all(isinstance(v, dict) and len(v) == 1 for v in query.values())
        ):
            return value
        aliases = self.profile.query_attribute_aliases
        predicates = [
            {"attribute_name": aliases.get(name, name), "operator": op, "attribute_value": operand}
            for name, condition in query.items()
            for op, operand in condition.items()
        ]
        self.log("C-QUERY-MAP", f"{path}.query", f"{len(predicates)} attribute(s)")
        if len(predicates) == 1:
            return {**value, "query": predicates[0]}
        items: list[dict[str, Any]] = []
        for seq, start in enumerate(range(0, len(predicates), 2), start=1):
            item: dict[str, Any] = {"seq_num": seq, "expression1": predicates[start]}
            if start + 1 < len(predicates):
                item["condition"] = "and"
                item["expression2"] = predicates[start + 1]
            items.append(item)
        return {**value, "query_type": "predicate", "query": items}

    def c_person_wrap(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        info = value.get("demographic_info")
        if isinstance(info, dict) and set(info) == {"person"} and isinstance(info["person"], dict):
            self.log("C-PERSON-WRAP", f"{path}.demographic_info")
            return {**value, "demographic_info": info["person"]}
        return value

    def c_enrolment_place(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        if "assistance_unit" not in value:
            return value
        for holder in ("member", "group"):
            inner = value.get(holder)
            if isinstance(inner, dict) and "programme_identifier" in inner:
                if value.get("programme_identifier") not in (None, "", []):
                    raise NormalisationError(
                        f"programme_identifier is given both in the beneficiary and in {holder}",
                        field=f"{path}.{holder}.programme_identifier",
                        rule="C-ENROLMENT-PLACE",
                    )
                self.log("C-ENROLMENT-PLACE", f"{path}.{holder}.programme_identifier")
                moved = {k: v for k, v in inner.items() if k != "programme_identifier"}
                value = {
                    **value,
                    holder: moved,
                    "programme_identifier": inner["programme_identifier"],
                }
        return value

    def c_query_attribute(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        name = value.get("attribute_name")
        if isinstance(name, str) and name in self.profile.query_attribute_aliases:
            canonical = self.profile.query_attribute_aliases[name]
            self.log("C-QUERY-ATTRIBUTE", f"{path}.attribute_name", f"{name} -> {canonical}")
            return {**value, "attribute_name": canonical}
        return value

    def c_signature_placeholder(self, envelope: dict[str, Any]) -> None:
        signature = envelope.get("signature")
        # DCI's example string, `unsigned`, `unsigned-stub` sign nothing; a real DCI signature
        # string (security profile section 3b) stays, to be verified by the receiver.
        if isinstance(signature, str) and is_placeholder_signature(signature):
            self.log("C-SIGNATURE-PLACEHOLDER", "$.signature")
            del envelope["signature"]

    def c_action(self, header: dict[str, Any]) -> None:
        action = header.get("action")
        if not isinstance(action, str):
            return
        canonical = self.profile.action_aliases.get(action, action)
        if canonical in self.profile.callback_actions.values() and "status" not in header:
            self.log("C-CALLBACK-STATUS", "$.header.status", "succ")
            header["status"] = "succ"
        if "status" in header:
            canonical = self.profile.callback_actions.get(canonical, canonical)
        if canonical != action:
            self.log("C-ACTION", "$.header.action", f"{action} -> {canonical}")
            header["action"] = canonical

    def c_receipt(self, message: dict[str, Any]) -> None:
        if "receipt_information" in message and "enrolled_updates" not in message:
            self.log("C-RECEIPT", "$.message.receipt_information")
            message["enrolled_updates"] = message.pop("receipt_information")

    def c_txn_status_empty(self, message: dict[str, Any]) -> None:
        # DCI's result lists may be empty; a txn_status with no result is "no status yet".
        answer = message.get("txnstatus_response")
        status = answer.get("txn_status") if isinstance(answer, dict) else None
        if not isinstance(status, dict):
            return
        lists = [status.get(k) for k in _TXN_RESULT_LISTS if k in status]
        if lists and all(v == [] for v in lists):
            assert isinstance(answer, dict)
            del answer["txn_status"]
            self.log("C-TXN-STATUS-EMPTY", "$.message.txnstatus_response.txn_status")

    def c_notify_events(self, message: dict[str, Any]) -> None:
        """DCI-valid notify shapes (DEV-API-10): DCI's person spellings of reg_record_type are
        our Member (C-NOTIFY-RECORD-TYPE); an event with no record has nothing to act on and
        is dropped (C-NOTIFY-NO-RECORDS). An event with records keeps needing reg_event_type."""
        events = message.get("notify_event")
        if not isinstance(events, list):
            return
        kept = []
        for position, event in enumerate(events):
            data = event.get("data") if isinstance(event, dict) else None
            if not isinstance(data, dict):
                kept.append(event)
                continue
            where = f"$.message.notify_event[{position}].data"
            kind = data.get("reg_record_type")
            if (
                isinstance(kind, str)
                and kind != "Member"
                and kind.strip().lower() in _PERSON_RECORD_TYPES
            ):
                self.log("C-NOTIFY-RECORD-TYPE", f"{where}.reg_record_type", f"{kind} -> Member")
                data["reg_record_type"] = "Member"
            records = data.get("reg_records")
            if (
                records is None
                or records == {}
                or (isinstance(records, list) and all(r == {} for r in records))
            ):
                self.log("C-NOTIFY-NO-RECORDS", f"{where}.reg_records")
                continue
            kept.append(event)
        message["notify_event"] = kept

    def c_updates_request_header(self, header: dict[str, Any], message: dict[str, Any]) -> None:
        """DCI's OpenAPI sends sync/enrollment/updates with the callback header: a request has
        no status, so the callback-only fields are dropped (DEV-API-05, IBR-UPDATES-006)."""
        if "enrolled_updates" not in message:
            return
        for name in _CALLBACK_ONLY_HEADER_FIELDS:
            if name in header:
                self.log("C-UPDATES-REQUEST-HEADER", f"$.header.{name}")
                del header[name]

    def c_enrolled_as_search(self, message: dict[str, Any]) -> None:
        items = message.get("search_response")
        if not isinstance(items, list) or not items:
            return

        def bare(record: Any) -> bool:
            return isinstance(record, dict) and set(record) == {"programme_identifier"}

        records = [
            r
            for item in items
            if isinstance(item, dict)
            for r in (item.get("data") or {}).get("reg_records", [])
        ]
        if not records or not all(bare(r) for r in records):
            return
        converted = []
        for item in items:
            enrolments = [
                enrolment
                for record in (item.get("data") or {}).get("reg_records", [])
                for enrolment in record["programme_identifier"]
            ]
            answer = {
                k: item[k]
                for k in ("reference_id", "timestamp", "status", "status_reason_message")
                if k in item
            }
            answer["enrolled_status"] = "yes" if enrolments else "no"
            if enrolments:
                answer["enrolments"] = enrolments
            converted.append(answer)
        self.log("C-ENROLLED-AS-SEARCH", "$.message.search_response")
        del message["search_response"]
        message["enrolled_response"] = converted

    def c_transaction_id(self, header: Mapping[str, Any], message: dict[str, Any]) -> None:
        message_id = header.get("message_id")
        if not isinstance(message_id, str):
            return
        if "transaction_id" not in message:
            self.log("C-TRANSACTION-ID", "$.message.transaction_id")
            message["transaction_id"] = message_id
        is_response = "status" in header and not any(
            k in message for k in ("notify_event", "enrolled_updates")
        )
        if is_response and "correlation_id" not in message:
            self.log("C-TRANSACTION-ID", "$.message.correlation_id")
            message["correlation_id"] = message_id

    def c_reference_id(self, message: dict[str, Any]) -> None:
        for key in (
            "search_request",
            "search_response",
            "subscribe_request",
            "subscribe_response",
            "notify_event",
            "enrolled_response",
        ):
            items = message.get(key)
            if not isinstance(items, list):
                continue
            for position, item in enumerate(items, start=1):
                if isinstance(item, dict) and "reference_id" not in item:
                    self.log("C-REFERENCE-ID", f"$.message.{key}[{position - 1}].reference_id")
                    item["reference_id"] = str(position)

    def c_nested_ack(self, envelope: dict[str, Any]) -> dict[str, Any] | None:
        message = envelope.get("message")
        inner = message.get("message") if isinstance(message, dict) else None
        if not (isinstance(inner, dict) and "ack_status" in inner):
            return None
        ack = dict(inner)
        if ack.get("timestamp") in (None, "") and "message_ts" in envelope.get("header", {}):
            ack["timestamp"] = envelope["header"]["message_ts"]
        self.log("C-NESTED-ACK", "$.message.message")
        return {"message": ack}


_REMOVED = object()
_CALLBACK_ONLY_HEADER_FIELDS = (
    "status",
    "status_reason_code",
    "status_reason_message",
    "completed_count",
)


def normalise_envelope_report(
    raw: Mapping[str, Any],
    *,
    unmapped_codes: UnmappedCodes = "attribute",
    zone: str | None = None,
) -> Normalised:
    """Normalise a whole envelope; returns the canonical copy, the rules applied and the schema.

    `unmapped_codes="reject"` turns a free word in a descriptive code field (occupation,
    education level, ...) into a NormalisationError instead of an additional attribute.
    `zone` reads zone-less instants (default: the profile's, UTC).
    """
    run = _Run(unmapped_codes=unmapped_codes, zone=zone)
    try:
        return _normalise(raw, run)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        # The rules read DCI shapes; a body of another shape (a list where DCI has an object,
        # true where it has a list) is a bad request, not a crash of the receiver.
        raise NormalisationError(
            f"the envelope has a shape no DCI variant has ({type(exc).__name__})"
        ) from exc


def _normalise(raw: Mapping[str, Any], run: _Run) -> Normalised:
    envelope: dict[str, Any] = copy.deepcopy(dict(raw))
    run.c_signature_placeholder(envelope)
    if isinstance(envelope.get("header"), dict):
        envelope["header"] = run.walk(envelope["header"], "$.header")
        run.c_action(envelope["header"])
    message_value = envelope.get("message")
    # An EncryptedMessage is signed as sent (encrypt, then sign: IBR-ENC-004); the receiver
    # normalises the plain message it decrypts, never the ciphertext's members.
    if isinstance(message_value, dict) and not is_encrypted_message(message_value):
        message = copy.deepcopy(message_value)
        run.c_receipt(message)
        if isinstance(envelope.get("header"), dict):
            run.c_updates_request_header(envelope["header"], message)
        envelope["message"] = message
        ack = run.c_nested_ack(envelope)
        if ack is not None:
            ack["message"] = run.walk(ack["message"], "$.message")
            return Normalised(value=ack, applied=run.applied, schema="api/ack")
        message = run.walk(message, "$.message")
        header = envelope["header"] if isinstance(envelope.get("header"), dict) else {}
        run.c_enrolled_as_search(message)
        run.c_transaction_id(header, message)
        run.c_reference_id(message)
        run.c_txn_status_empty(message)
        run.c_notify_events(message)
        map_subscribe_criteria(message, run.log)
        map_age_queries(message, run.today, run.log)
        envelope["message"] = message
    return Normalised(value=envelope, applied=run.applied, schema=envelope_schema(envelope))


def normalise_envelope(
    raw: Mapping[str, Any],
    *,
    unmapped_codes: UnmappedCodes = "attribute",
    zone: str | None = None,
) -> dict[str, Any]:
    """The canonical copy of a DCI-variant envelope (input untouched)."""
    return normalise_envelope_report(raw, unmapped_codes=unmapped_codes, zone=zone).value


_RECORD_KINDS = frozenset(
    {
        "beneficiary",
        "member",
        "group",
        "person",
        "programme",
        "programme_enrolment",
        "benefit",
        "benefit_frequency",
        "identifier",
        "disbursement",
        "address",
        "name",
        "money",
    }
)


def normalise_record_report(
    kind: str,
    raw: Mapping[str, Any],
    *,
    unmapped_codes: UnmappedCodes = "attribute",
    zone: str | None = None,
) -> Normalised:
    """Normalise one data element (`kind` is its schema under data/, e.g. `"beneficiary"`)."""
    if kind not in _RECORD_KINDS:
        raise ValueError(
            f"unknown record kind {kind!r}; use one of {', '.join(sorted(_RECORD_KINDS))}"
        )
    run = _Run(unmapped_codes=unmapped_codes, zone=zone)
    value = run.walk(copy.deepcopy(dict(raw)), "$")
    return Normalised(value=value, applied=run.applied, schema=f"data/{kind}")


def normalise_record(
    kind: str,
    raw: Mapping[str, Any],
    *,
    unmapped_codes: UnmappedCodes = "attribute",
    zone: str | None = None,
) -> dict[str, Any]:
    """The canonical copy of one DCI-variant data element (input untouched)."""
    return normalise_record_report(kind, raw, unmapped_codes=unmapped_codes, zone=zone).value


def clear_caches() -> None:
    """Forget the loaded profile (for tests that point IBR_SPEC_DIR elsewhere)."""
    _profile.cache_clear()
