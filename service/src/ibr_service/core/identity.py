"""The identifier type registry: canonical codes, aliases, normalisation, check digits, rank.

Every identifier an SP-MIS sends is normalised here before it is stored or looked up, so that
`"1234 5678-9"` and `"123456789"`, or types `NationalID` and `NID`, link the same person. Types
the registry does not know are kept as sent (upper-cased, spaces and hyphens kept) and rank
last: the IBR never refuses an identifier for its type.

A deployment replaces the defaults with a YAML or JSON file (`IBR_IDENTIFIER_TYPES_FILE`):

    - code: NID
      aliases: [NationalID, NATIONAL_ID]
      strip: " -./"          # characters removed from values (default: spaces and hyphens)
      upper: true            # case-fold values to upper case (default true)
      leading_zeros: keep    # or strip
      check_digit: verhoeff  # or luhn; values that fail are not used for linkage
    - code: HMAC_SHA256
      keyed: hmac-sha256     # keyed-hash tokens TYPE:KEY_ID:HEX (ibr_protocol.keyed_identifiers)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from ibr_protocol.check_digits import CHECK_DIGITS
from ibr_protocol.keyed_identifiers import KEYED_IDENTIFIER_TYPE, parse_keyed_value
from ibr_service.core.query import (
    And,
    Attribute,
    Comparison,
    Expr,
    IdentifierIs,
    Not,
    Operator,
    Or,
    Scalar,
)
from ibr_service.core.records import IdentifierRecord

__all__ = [
    "DEFAULT_IDENTIFIER_TYPES",
    "IdentifierType",
    "IdentifierTypes",
    "Normalised",
    "load_identifier_types",
    "normalise_query",
]


@dataclass(frozen=True, slots=True)
class IdentifierType:
    """How one identifier type is spelled, normalised and checked."""

    code: str
    aliases: tuple[str, ...] = ()
    strip: str = " -"
    upper: bool = True
    leading_zeros: Literal["keep", "strip"] = "keep"
    check_digit: str | None = None
    keyed: bool = False
    """Values are keyed-hash tokens: spelled canonically, valid only when well formed."""

    def normalise(self, value: str) -> str:
        if self.keyed:
            parsed = parse_keyed_value(value)
            return value.strip() if parsed is None else str(parsed)
        text = value.strip()
        for ch in self.strip:
            text = text.replace(ch, "")
        if self.upper:
            text = text.upper()
        if self.leading_zeros == "strip":
            text = text.lstrip("0") or "0"
        return text

    @property
    def checked(self) -> bool:
        """Whether a value can fail: a check digit, or a keyed-hash token's form."""
        return self.keyed or self.check_digit is not None

    def valid(self, normalised_value: str) -> bool:
        if self.keyed:
            return parse_keyed_value(normalised_value) is not None
        if self.check_digit is None:
            return True
        return CHECK_DIGITS[self.check_digit](normalised_value)


@dataclass(frozen=True, slots=True)
class Normalised:
    """The identifiers of one record after normalisation, best-ranked first."""

    linkable: tuple[IdentifierRecord, ...]
    """Valid identifiers, ranked: these link the record to a subject."""
    invalid: tuple[IdentifierRecord, ...] = ()
    """Identifiers whose check digit fails: kept in the source document, never used to link."""
    checks: tuple[tuple[str, bool], ...] = ()
    """(type, passed) for each type with a check scheme that was sent, by type: passed when
    every value of that type passed (what data quality counts per feed)."""


@dataclass(frozen=True)
class IdentifierTypes:
    """The registry: types in rank order (the first ranks highest for the subject key)."""

    types: tuple[IdentifierType, ...]
    _by_name: Mapping[str, IdentifierType] = field(init=False, repr=False, compare=False)
    _rank: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, IdentifierType] = {}
        for t in self.types:
            for name in (t.code, *t.aliases):
                by_name[_fold(name)] = t
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_rank", {t.code: i for i, t in enumerate(self.types)})

    def canonical(self, type_name: str) -> IdentifierType | None:
        return self._by_name.get(_fold(type_name))

    def normalise(self, identifiers: Iterable[tuple[str, str]]) -> Normalised:
        """Normalise (type, value) pairs; duplicates after normalisation collapse."""
        linkable: dict[tuple[str, str], IdentifierRecord] = {}
        invalid: dict[tuple[str, str], IdentifierRecord] = {}
        checks: dict[str, bool] = {}
        for raw_type, raw_value in identifiers:
            known = self.canonical(raw_type)
            if known is None:
                record = IdentifierRecord(raw_type.strip().upper(), raw_value.strip())
                linkable.setdefault((record.identifier_type, record.identifier_value), record)
                continue
            record = IdentifierRecord(known.code, known.normalise(raw_value))
            passed = known.valid(record.identifier_value)
            target = linkable if passed else invalid
            target.setdefault((record.identifier_type, record.identifier_value), record)
            if known.checked:
                checks[known.code] = checks.get(known.code, True) and passed
        ranked = list(linkable.values())
        if len(ranked) > 1:
            ranked.sort(key=self.sort_key)
        return Normalised(tuple(ranked), tuple(invalid.values()), tuple(sorted(checks.items())))

    def sort_key(self, identifier: IdentifierRecord) -> tuple[int, str, str]:
        """Rank, then type and value: the same order whatever order they were sent in."""
        rank = self._rank.get(identifier.identifier_type, len(self.types))
        return (rank, identifier.identifier_type, identifier.identifier_value)

    @classmethod
    def from_config(cls, entries: Sequence[Mapping[str, Any]]) -> IdentifierTypes:
        """Build from a parsed YAML/JSON list; raises ValueError naming the bad entry."""
        types = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("code"), str):
                raise ValueError(f"identifier type #{i + 1}: a mapping with a 'code' is required")
            check = entry.get("check_digit")
            if check is not None and check not in CHECK_DIGITS:
                raise ValueError(
                    f"identifier type {entry['code']}: check_digit must be one of "
                    f"{', '.join(sorted(CHECK_DIGITS))}"
                )
            keyed = entry.get("keyed")
            if keyed not in (None, "hmac-sha256"):
                raise ValueError(f"identifier type {entry['code']}: keyed is hmac-sha256")
            zeros = entry.get("leading_zeros", "keep")
            if zeros not in ("keep", "strip"):
                raise ValueError(f"identifier type {entry['code']}: leading_zeros is keep or strip")
            types.append(
                IdentifierType(
                    code=entry["code"],
                    aliases=tuple(str(a) for a in entry.get("aliases", ())),
                    strip=str(entry.get("strip", " -")),
                    upper=bool(entry.get("upper", True)),
                    leading_zeros=zeros,
                    check_digit=check,
                    keyed=keyed is not None,
                )
            )
        return cls(tuple(types))


@lru_cache(maxsize=1024)
def _fold(name: str) -> str:
    # Cached: a batch spells the same few type names over and over.
    return "".join(ch for ch in name.upper() if ch.isalnum())


DEFAULT_IDENTIFIER_TYPES = IdentifierTypes(
    (
        IdentifierType("NID", aliases=("NationalID", "NATIONAL_ID", "NATIONAL_ID_NUMBER")),
        IdentifierType("UIN", aliases=("UNIQUE_ID",)),
        IdentifierType("BRN", aliases=("BIRTH_REGISTRATION", "BIRTH_CERTIFICATE")),
        IdentifierType(KEYED_IDENTIFIER_TYPE, keyed=True),
        IdentifierType("PASSPORT", strip=" "),
        IdentifierType("SSN"),
        IdentifierType("TIN"),
        IdentifierType("VOTER_ID"),
        IdentifierType("DRIVING_LICENCE", aliases=("DRIVING_LICENSE",)),
        IdentifierType("REFUGEE_ID"),
        IdentifierType("MRN"),
        IdentifierType("DRN"),
        IdentifierType("SOCIAL_REGISTRY_ID", strip=" "),
        IdentifierType("HOUSEHOLD_ID", aliases=("HHID",), strip=" "),
        IdentifierType("BENEFICIARY_ID", strip=" "),
    )
)
"""The spec's identifier types (codes/identifier_type), national ID first, without check digits
(they differ by country; programme-issued codes keep their hyphens): a deployment declares its
own in the file, as `ibr_mock_data/identifier-types.yaml` does for the mock countries (Verhoeff
national IDs)."""


def normalise_query(expr: Expr, types: IdentifierTypes) -> Expr:
    """`expr` with identifier types and values spelled as the registry stores them."""
    if isinstance(expr, IdentifierIs):
        known = types.canonical(expr.identifier_type) if expr.identifier_type else None
        if known is not None:
            return IdentifierIs(known.code, known.normalise(expr.identifier_value))
        if expr.identifier_type is None:
            variants = _variants(expr.identifier_value, types)
            if len(variants) == 1:
                return IdentifierIs(None, variants[0])
            return Or(tuple(IdentifierIs(None, v) for v in variants))
        return IdentifierIs(expr.identifier_type.strip().upper(), expr.identifier_value.strip())
    if isinstance(expr, Comparison) and expr.attribute is Attribute.IDENTIFIER_TYPE:
        return replace(expr, value=_map(expr.value, lambda v: _type_code(v, types)))
    if isinstance(expr, Comparison) and expr.attribute is Attribute.IDENTIFIER_VALUE:
        if expr.operator is Operator.EQ and isinstance(expr.value, str):
            return replace(expr, operator=Operator.IN, value=_variants(expr.value, types))
        if expr.operator is Operator.IN and isinstance(expr.value, tuple):
            spelled = [
                v for raw in expr.value if isinstance(raw, str) for v in _variants(raw, types)
            ]
            return replace(expr, value=tuple(dict.fromkeys(spelled)))
    if isinstance(expr, And):
        return And(tuple(normalise_query(e, types) for e in expr.items))
    if isinstance(expr, Or):
        return Or(tuple(normalise_query(e, types) for e in expr.items))
    if isinstance(expr, Not):
        return Not(normalise_query(expr.item, types))
    return expr


def _variants(value: str, types: IdentifierTypes) -> tuple[str, ...]:
    """Every spelling `value` has under some type's normalisation: a query that names no type
    matches an identifier of any type as stored."""
    return tuple(sorted({t.normalise(value) for t in types.types} | {value.strip()}))


def _type_code(value: str, types: IdentifierTypes) -> str:
    known = types.canonical(value)
    return known.code if known is not None else value.strip().upper()


def _map(
    value: Scalar | tuple[Scalar, ...], fn: Callable[[str], str]
) -> Scalar | tuple[Scalar, ...]:
    if isinstance(value, tuple):
        return tuple(fn(v) if isinstance(v, str) else v for v in value)
    return fn(value) if isinstance(value, str) else value


def load_identifier_types(path: Path) -> IdentifierTypes:
    """The registry of a YAML or JSON file; ValueError says which file and what is wrong."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"identifier types file {path}: {exc}") from None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"identifier types file {path}: a non-empty list of types is expected")
    try:
        return IdentifierTypes.from_config(entries)
    except ValueError as exc:
        raise ValueError(f"identifier types file {path}: {exc}") from None
