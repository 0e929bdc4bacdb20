"""The declared rules an update must keep: status transitions and date sanity.

A violation rejects that item only (the other items of the batch are kept), with the spec's
reason code and a message naming the field and the rule - never the values (IBR-ERR-003).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

__all__ = [
    "DECEASED",
    "REASON_INVALID",
    "REASON_TRANSITION",
    "RuleViolationError",
    "check_dates",
    "check_transition",
]

DECEASED = "2"
REASON_INVALID = "rjct.beneficiary.invalid"
REASON_TRANSITION = "rjct.enrolment_status.invalid"
WITHDRAWAL_REASON = "correction"
"""`status_reason` with which the reporting source withdraws a Deceased status it sent."""

TERMINAL: Mapping[str, str] = {DECEASED: "Deceased"}
"""Statuses an enrolment cannot leave (codes/enrolment_status), but by a withdrawal."""


class RuleViolationError(Exception):
    """An item breaks a declared rule."""

    def __init__(self, message: str, *, field: str, reason: str) -> None:
        self.message = message
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {message}")


def check_transition(
    previous: str | None, new: str, *, status_reason: str | None, field: str
) -> None:
    """Refuse leaving a terminal status, unless the source withdraws it as a correction."""
    if previous is None or previous == new or previous not in TERMINAL:
        return
    if (status_reason or "").strip().casefold() == WITHDRAWAL_REASON:
        return
    raise RuleViolationError(
        f"status {TERMINAL[previous]} ({previous}) is terminal: a change to {new} needs "
        f"status_reason '{WITHDRAWAL_REASON}' from the programme that reported it",
        field=field,
        reason=REASON_TRANSITION,
    )


def check_dates(
    *,
    birth: tuple[str, date | None],
    death: tuple[str, date | None],
    dated: Mapping[str, date | None],
    today: date,
    tolerance_days: int,
) -> None:
    """death >= birth, every other date >= birth, nothing beyond today + tolerance.

    `birth`, `death`: (field path, date); `dated` maps field paths to the item's other dates.
    """
    latest = today + timedelta(days=tolerance_days)
    (birth_field, born), (death_field, died) = birth, death
    every = {**dated, birth_field: born, death_field: died}
    for field, day in every.items():
        if day is not None and day > latest:
            raise RuleViolationError("date lies in the future", field=field, reason=REASON_INVALID)
    if born is None:
        return
    if died is not None and died < born:
        raise RuleViolationError(
            "death_date is before birth_date", field=death_field, reason=REASON_INVALID
        )
    for field, day in dated.items():
        if day is not None and day < born:
            name = field.rsplit(".", 1)[-1]
            raise RuleViolationError(
                f"{name} is before birth_date", field=field, reason=REASON_INVALID
            )
