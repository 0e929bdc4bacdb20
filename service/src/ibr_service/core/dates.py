"""Dates from the wire: `YYYY-MM-DD`, or a date-time converted to its UTC date.

DCI fields typed `date` are often sent as date-times (`2024-01-31T23:30:00-05:00`); cutting
the first ten characters would give the sender's local date, not the UTC one the IBR compares.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

__all__ = ["utc_date"]


def utc_date(text: str) -> date | None:
    """The UTC date `text` names, or None when it is neither a date nor a zoned date-time.

    A date-time without a zone is taken as UTC (the date as written).
    """
    text = text.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()
