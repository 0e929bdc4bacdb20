"""Time on the wire: RFC 3339 timestamps and the message_ts acceptance window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ibr_protocol.errors import TimestampError

DEFAULT_WINDOW_SECONDS = 300
"""How far `message_ts` may be from the receiver's clock, either way (security profile)."""


def utc_now() -> datetime:
    """The current time, zone-aware UTC."""
    return datetime.now(UTC)


def format_timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 with milliseconds and `Z`, e.g. `2023-07-19T12:15:04.555Z`.

    A naive datetime is refused rather than guessed.
    """
    moment = moment or utc_now()
    if moment.tzinfo is None:
        raise ValueError("timestamps must be zone-aware (got a naive datetime)")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_timestamp(value: str, *, field: str = "header.message_ts") -> datetime:
    """Parse an RFC 3339 date-time that carries a zone; raises TimestampError otherwise."""
    if not isinstance(value, str) or "T" not in value.upper():
        raise TimestampError(f"{value!r} is not an RFC 3339 date-time", field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise TimestampError(f"{value!r} is not an RFC 3339 date-time", field=field) from None
    if parsed.tzinfo is None:
        raise TimestampError(f"{value!r} has no time zone (RFC 3339 requires one)", field=field)
    return parsed


def check_message_ts(
    message_ts: str,
    *,
    now: datetime | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> datetime:
    """Accept `message_ts` only within `window_seconds` of `now`; returns the parsed instant.

    Raises TimestampError naming `header.message_ts` when it is malformed, too old (expired) or
    too far in the future (clock skew beyond the window).
    """
    sent = parse_timestamp(message_ts)
    now = now or utc_now()
    skew = sent - now
    window = timedelta(seconds=window_seconds)
    if skew < -window:
        raise TimestampError(
            f"message_ts {message_ts} is {int(-skew.total_seconds())} s old; "
            f"the window is {window_seconds} s (expired)"
        )
    if skew > window:
        raise TimestampError(
            f"message_ts {message_ts} is {int(skew.total_seconds())} s in the future; "
            f"the window is {window_seconds} s"
        )
    return sent
