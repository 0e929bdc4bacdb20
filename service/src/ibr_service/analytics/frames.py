"""The plain inputs every computation reads: one pandas frame per registry table.

The columns are those of the registry model (docs/registry-model.md); a source (the SQL store,
canonical records, a test) fills them, and computations never touch a database themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ibr_service.analytics.errors import AnalyticsError

__all__ = ["CLOSED_STATUSES", "COLUMNS", "OPEN_STATUSES", "RegistryFrames"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": (
        "subject_key", "kind", "given_name", "surname", "sex", "birth_date", "death_date",
        "area_code", "area_level_1", "area_level_2", "area_level_3", "area_level_4",
    ),
    "identifiers": ("subject_key", "identifier_type", "identifier_value"),
    "memberships": ("subject_key", "member_key"),
    "enrolments": (
        "subject_key", "enrolment_key", "programme_identifier", "beneficiary_programme_id",
        "enrolment_status", "enrolment_date", "status_change_date", "sender_id",
    ),
    "benefits": (
        "subject_key", "enrolment_key", "benefit_key", "programme_identifier", "amount",
        "currency", "period_start", "period_end", "payment_status",
    ),
    # One row per source record (a subject in one feed's record) and checked identifier type:
    # whether what the feed sent passed (its check digit); failed ones are never linked.
    "identifier_checks": (
        "subject_key", "sender_id", "programme_identifier", "identifier_type", "passed",
    ),
}  # fmt: skip

# Enrolment status codes (spec/schemas/codes/enrolment_status.schema.json).
OPEN_STATUSES = frozenset({"1", "4", "7"})  # active, suspended, pending
CLOSED_STATUSES = frozenset({"2", "3", "5", "6"})  # deceased, graduated, exited, withdrawn
_DATES = ("birth_date", "death_date", "enrolment_date", "status_change_date")


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in COLUMNS[table]})


@dataclass(frozen=True)
class RegistryFrames:
    """The registry as frames. Dates are ``datetime64``; amounts are floats."""

    subjects: pd.DataFrame = field(default_factory=lambda: _empty("subjects"))
    identifiers: pd.DataFrame = field(default_factory=lambda: _empty("identifiers"))
    memberships: pd.DataFrame = field(default_factory=lambda: _empty("memberships"))
    enrolments: pd.DataFrame = field(default_factory=lambda: _empty("enrolments"))
    benefits: pd.DataFrame = field(default_factory=lambda: _empty("benefits"))
    identifier_checks: pd.DataFrame = field(default_factory=lambda: _empty("identifier_checks"))

    def __post_init__(self) -> None:
        for table, columns in COLUMNS.items():
            frame: pd.DataFrame = getattr(self, table)
            missing = [column for column in columns if column not in frame.columns]
            if missing:
                raise AnalyticsError(f"{table}: missing columns {', '.join(missing)}")
            for column in frame.columns.intersection(_DATES):
                frame[column] = pd.to_datetime(frame[column], errors="coerce")
        for column in ("period_start", "period_end"):
            self.benefits[column] = pd.to_datetime(self.benefits[column], errors="coerce")
        self.benefits["amount"] = pd.to_numeric(self.benefits["amount"], errors="coerce")

    def programmes(self) -> list[str]:
        return sorted(self.enrolments["programme_identifier"].dropna().unique())

    def within_areas(self, areas: frozenset[str] | set[str] | None) -> RegistryFrames:
        """Only subjects in ``areas`` (at any level) and their enrolments (a read scope)."""
        if areas is None:
            return self
        levels = ["area_code", "area_level_1", "area_level_2", "area_level_3", "area_level_4"]
        inside = self.subjects[levels].isin(areas).any(axis=1)
        keys = set(self.subjects.loc[inside, "subject_key"])
        members = self.memberships[self.memberships["subject_key"].isin(keys)]
        keys |= set(members["member_key"])
        return RegistryFrames(
            subjects=self.subjects[self.subjects["subject_key"].isin(keys)].copy(),
            identifiers=self.identifiers[self.identifiers["subject_key"].isin(keys)].copy(),
            memberships=members.copy(),
            enrolments=self.enrolments[self.enrolments["subject_key"].isin(keys)].copy(),
            benefits=self.benefits[self.benefits["subject_key"].isin(keys)].copy(),
            identifier_checks=self.identifier_checks[
                self.identifier_checks["subject_key"].isin(keys)
            ].copy(),
        )

    def within_programmes(self, programmes: set[str] | None) -> RegistryFrames:
        """Only the enrolments, benefits and identifier checks of ``programmes`` (a client's
        read scope)."""
        if programmes is None:
            return self
        enrolments = self.enrolments[self.enrolments["programme_identifier"].isin(programmes)]
        benefits = self.benefits[self.benefits["programme_identifier"].isin(programmes)]
        checks = self.identifier_checks
        return RegistryFrames(
            subjects=self.subjects,
            identifiers=self.identifiers,
            memberships=self.memberships,
            enrolments=enrolments.copy(),
            benefits=benefits.copy(),
            identifier_checks=checks[checks["programme_identifier"].isin(programmes)].copy(),
        )
