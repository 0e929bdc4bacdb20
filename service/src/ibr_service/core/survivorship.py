"""The consolidated subject, derived from its source records by declared rules.

- Names, sex, birth date, area, group fields and the document: from the latest source record
  (by event date, then by when it was received) that has the field. What a programme says about
  a person in their own Member record outranks what a household's member list says of them
  (rosters are the less maintained view), whatever the dates.
- Death: reported by any source makes the subject deceased, with the earliest date reported;
  only the reporting source withdraws it (its own next record), so no other source erases it.
- `last_updated`: the latest event date of any source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from ibr_service.core.ingest import content_hash
from ibr_service.core.records import (
    AREA_LEVELS,
    AreaRecord,
    IdentifierRecord,
    SourceRecord,
    SubjectRecord,
)

__all__ = ["MEMBER_LIST_MARK", "area_levels", "consolidate"]

MEMBER_LIST_MARK = "|m:"
"""In a source key, marks what a household's member list said of one of its members."""

_LATEST_WINS = (
    "given_name",
    "surname",
    "sex",
    "birth_date",
    "group_type",
    "group_size",
    "poverty_score",
    "area_code",
)


def consolidate(
    subject_key: str,
    sources: Sequence[SourceRecord],
    *,
    identifiers: Sequence[IdentifierRecord],
    member_keys: Sequence[str],
    areas: Mapping[str, AreaRecord],
) -> SubjectRecord:
    """The subject as the registry holds it, from every source record it is linked to."""
    ordered = sorted(sources, key=_recency)
    latest = ordered[-1]
    facts: dict[str, Any]
    if len(ordered) == 1:  # most subjects: one source says everything
        facts = {name: getattr(latest.subject, name) for name in _LATEST_WINS}
    else:
        facts = {
            name: next(
                (v for s in reversed(ordered) if (v := getattr(s.subject, name)) is not None), None
            )
            for name in _LATEST_WINS
        }
    deaths = [s for s in ordered if s.subject.death_date is not None]
    first_death = min(deaths, key=lambda s: (s.subject.death_date, s.source_key), default=None)
    event_dates = [s.event_date for s in ordered if s.event_date is not None]
    area_source = next((s for s in reversed(ordered) if s.subject.area_code is not None), None)
    levels = (
        area_levels(area_source.subject.area_code, area_source.subject.area_levels, areas)
        if area_source is not None and area_source.subject.area_code is not None
        else (None,) * AREA_LEVELS
    )
    death_date = None if first_death is None else first_death.subject.death_date
    death_reported_by = None if first_death is None else first_death.source_key
    last_updated = max(event_dates, default=None)
    # The document enters by its own hash (computed when it was received): re-serialising
    # every document of a batch was a third of the cost of consolidation.
    fingerprint = content_hash(
        [
            latest.subject.content_hash,
            [facts[n] for n in _LATEST_WINS],
            death_date,
            death_reported_by,
            levels,
            last_updated,
        ]
    )
    return SubjectRecord(
        subject_key=subject_key,
        kind=latest.subject.kind,
        identifiers=tuple(identifiers),
        document=latest.subject.document,
        content_hash=fingerprint,
        death_date=death_date,
        member_keys=tuple(member_keys),
        area_levels=levels,
        last_updated=last_updated,
        death_reported_by=death_reported_by,
        **facts,
    )


def area_levels(
    code: str, sent: Sequence[str | None], areas: Mapping[str, AreaRecord]
) -> tuple[str | None, ...]:
    """The code at every level: from the area hierarchy when `code` is known, else as sent."""
    known = areas.get(code)
    if known is None:
        return tuple(sent[:AREA_LEVELS]) + (None,) * (AREA_LEVELS - len(sent))
    levels: list[str | None] = [None] * AREA_LEVELS
    seen: set[str] = set()
    current: AreaRecord | None = known
    while current is not None and current.area_code not in seen:
        seen.add(current.area_code)
        if 1 <= current.level <= AREA_LEVELS:
            levels[current.level - 1] = current.area_code
        current = areas.get(current.parent_code) if current.parent_code else None
    return tuple(levels)


def _recency(source: SourceRecord) -> tuple[bool, date, datetime, str]:
    own_record = MEMBER_LIST_MARK not in source.source_key
    return (own_record, source.event_date or date.min, source.received_at, source.source_key)
