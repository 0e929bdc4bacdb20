"""Frames from canonical ``Beneficiary`` records (a JSONL file, or mock data in memory).

For reports on an SP-MIS export that was never ingested, and for tests before data reaches a
store. Linkage is the registry model's first rule only: a record belongs to the subject of its
highest-ranked identifier (national ID, then birth registration, then any other; households by
their group identifier), people without one get a key derived from name and birth date. The
registry itself (``ibr_service.core``) also opens identity cases; this loader does not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import COLUMNS, RegistryFrames
from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES, IdentifierTypes

__all__ = ["frames_from_jsonl", "frames_from_records"]

_RANK = ("NID", "NATIONAL_ID", "BRN", "HOUSEHOLD_ID")


def _normalise(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum()).upper()


def _ranked(identifiers: list[dict[str, Any]]) -> list[tuple[str, str]]:
    pairs = [
        (str(i.get("identifier_type", "")).upper(), _normalise(str(i.get("identifier_value", ""))))
        for i in identifiers or []
    ]
    pairs = [(kind, value) for kind, value in pairs if kind and value]
    return sorted(pairs, key=lambda p: _RANK.index(p[0]) if p[0] in _RANK else len(_RANK))


class _Builder:
    def __init__(self, identifier_types: IdentifierTypes) -> None:
        self.identifier_types = identifier_types
        self.checks: list[tuple[str, str, str | None, str, bool]] = []
        self.record_checks: list[tuple[str, str, bool]] = []  # of the record being read
        self.subjects: dict[str, dict[str, Any]] = {}
        self.identifiers: set[tuple[str, str, str]] = set()
        self.memberships: set[tuple[str, str]] = set()
        self.enrolments: list[dict[str, Any]] = []
        self.benefits: list[dict[str, Any]] = []
        self.index: dict[tuple[str, str, str], str] = {}  # (p|g, type, value) -> subject

    def _key(self, prefix: str, pairs: list[tuple[str, str]], fallback: str) -> str:
        for pair in pairs:
            if (prefix, *pair) in self.index:
                return self.index[(prefix, *pair)]
        if pairs:
            return f"{prefix}:{pairs[0][0]}:{pairs[0][1]}"
        digest = hashlib.sha256(fallback.encode()).hexdigest()[:20]
        return f"{prefix}:~demo:{digest}"

    def person(self, member: dict[str, Any]) -> str:
        info = member.get("demographic_info") or {}
        pairs = _ranked(member.get("member_identifier") or info.get("identifier") or [])
        name = info.get("name") or {}
        fallback = json.dumps([name, info.get("birth_date"), info.get("sex")], sort_keys=True)
        key = self._key("p", pairs, fallback)
        address = (info.get("address") or [{}])[0]
        self._subject(key, "person", address, pairs)
        self._check(key, member.get("member_identifier") or info.get("identifier"))
        self.subjects[key].update(
            given_name=name.get("given_name"),
            surname=name.get("surname"),
            sex=info.get("sex"),
            birth_date=info.get("birth_date"),
            death_date=info.get("death_date") or member.get("death_date"),
        )
        return key

    def group(self, group: dict[str, Any]) -> str:
        pairs = _ranked(group.get("group_identifier") or [])
        fallback = json.dumps(group.get("group_head_info") or {}, sort_keys=True)
        key = self._key("g", pairs, fallback)
        self._subject(key, "group", (group.get("address") or [{}])[0], pairs)
        self._check(key, group.get("group_identifier"))
        for member in group.get("member_list") or []:
            self.memberships.add((key, self.person(member)))
        return key

    def _subject(
        self, key: str, kind: str, address: dict[str, Any], pairs: list[tuple[str, str]]
    ) -> None:
        region, district = address.get("region_code"), address.get("sub_region_code")
        row = self.subjects.setdefault(key, dict.fromkeys(COLUMNS["subjects"]))
        row.update(
            subject_key=key,
            kind=kind,
            area_code=district or region,
            area_level_1=region,
            area_level_2=district,
        )
        self.identifiers.update((key, kind_, value) for kind_, value in pairs)
        for kind_, value in pairs:
            self.index.setdefault((key[0], kind_, value), key)

    def _check(self, key: str, identifiers: list[dict[str, Any]] | None) -> None:
        """Note the checks of the identifiers as the registry would (its identifier types)."""
        pairs = [
            (str(i.get("identifier_type", "")), str(i.get("identifier_value", "")))
            for i in identifiers or []
        ]
        checks = self.identifier_types.normalise(pairs).checks
        self.record_checks.extend((key, kind, passed) for kind, passed in checks)

    def record(self, record: dict[str, Any], sender_id: str) -> None:
        self.record_checks = []
        if "group" in record:
            key = self.group(record["group"])
        elif "member" in record:
            key = self.person(record["member"])
        else:
            raise AnalyticsError("a beneficiary record has neither member nor group")
        for enrolment in record.get("programme_identifier") or []:
            programme = (enrolment.get("programme") or {}).get("programme_identifier")
            record_id = enrolment.get("beneficiary_programme_id")
            self.checks.extend(
                (subject, sender_id, programme, kind, passed)
                for subject, kind, passed in self.record_checks
            )
            enrolment_key = f"{key}|{programme}" + (f"|{record_id}" if record_id else "")
            self.enrolments.append(
                {
                    "subject_key": key,
                    "enrolment_key": enrolment_key,
                    "programme_identifier": programme,
                    "beneficiary_programme_id": record_id,
                    "enrolment_status": enrolment.get("enrolment_status"),
                    "enrolment_date": enrolment.get("enrolment_date"),
                    "status_change_date": enrolment.get("status_change_date"),
                    "sender_id": sender_id,
                }
            )
            for benefit in enrolment.get("benefits") or []:
                value = benefit.get("benefit_value") or {}
                self.benefits.append(
                    {
                        "subject_key": key,
                        "enrolment_key": enrolment_key,
                        "benefit_key": benefit.get("benefit_id"),
                        "programme_identifier": programme,
                        "amount": value.get("amount"),
                        "currency": value.get("currency"),
                        "period_start": benefit.get("period_start") or benefit.get("benefit_date"),
                        "period_end": benefit.get("period_end") or benefit.get("benefit_date"),
                        "payment_status": benefit.get("payment_status"),
                    }
                )

    def frames(self) -> RegistryFrames:
        def frame(table: str, rows: Iterable[Any]) -> pd.DataFrame:
            return pd.DataFrame(list(rows), columns=list(COLUMNS[table]))

        return RegistryFrames(
            subjects=frame("subjects", self.subjects.values()),
            identifiers=frame("identifiers", sorted(self.identifiers)),
            memberships=frame("memberships", sorted(self.memberships)),
            enrolments=frame("enrolments", self.enrolments),
            benefits=frame("benefits", self.benefits),
            identifier_checks=frame("identifier_checks", self.checks),
        )


def frames_from_records(
    records: Iterable[dict[str, Any]],
    sender_id: str = "SP-MIS",
    identifier_types: IdentifierTypes = DEFAULT_IDENTIFIER_TYPES,
) -> RegistryFrames:
    """Frames from canonical ``Beneficiary`` dicts (see spec/CONVENTIONS.md); identifiers are
    checked (``identifier_checks``) with ``identifier_types``, the deployment's."""
    builder = _Builder(identifier_types)
    for record in records:
        builder.record(record, sender_id)
    return builder.frames()


def frames_from_jsonl(
    path: Path,
    sender_id: str = "SP-MIS",
    identifier_types: IdentifierTypes = DEFAULT_IDENTIFIER_TYPES,
) -> RegistryFrames:
    """Frames from a JSONL file of canonical ``Beneficiary`` records, one per line."""
    try:
        with path.open(encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
    except OSError as error:
        raise AnalyticsError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise AnalyticsError(f"{path}: not JSON Lines (line {error.lineno})") from None
    return frames_from_records(records, sender_id, identifier_types)
