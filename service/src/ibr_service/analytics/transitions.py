"""Transitions: people who left a programme, and where they went within N months.

An exit is an enrolment closed (deceased, graduated, exited, withdrawn) on its status change
date; a household's exit is an exit of each member. Within ``months`` after the exit the person
either entered another programme (``to`` = that programme; the first one), was already in
another one (``to`` = ``already enrolled``), died (``deceased``), or is in none (``none``).
Exits whose window has not ended by ``as_of`` are ``pending``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ibr_service.analytics.coverage import reach
from ibr_service.analytics.frames import CLOSED_STATUSES, OPEN_STATUSES, RegistryFrames

__all__ = ["transition_table", "transitions"]

DECEASED = "2"


def transitions(
    frames: RegistryFrames, months: int = 6, as_of: dt.date | None = None
) -> pd.DataFrame:
    """One row per person exit: ``person_key, from, exit_date, to``."""
    on = pd.Timestamp(as_of or dt.date.today())
    rows = reach(frames)
    exits = rows[
        rows["enrolment_status"].isin(CLOSED_STATUSES) & rows["status_change_date"].notna()
    ]
    exits = exits.rename(
        columns={"programme_identifier": "from", "status_change_date": "exit_date"}
    )
    exits = exits[["person_key", "from", "exit_date", "enrolment_status"]].drop_duplicates()
    exits["window_end"] = exits["exit_date"] + pd.DateOffset(months=months)

    entries = rows[["person_key", "programme_identifier", "enrolment_date"]].dropna()
    moved = exits.merge(entries, on="person_key")
    moved = moved[
        (moved["programme_identifier"] != moved["from"])
        & (moved["enrolment_date"] >= moved["exit_date"])
        & (moved["enrolment_date"] <= moved["window_end"])
    ]
    first = moved.sort_values("enrolment_date").drop_duplicates(["person_key", "from", "exit_date"])
    first = first.set_index(["person_key", "from", "exit_date"])["programme_identifier"]

    still_open = rows[rows["enrolment_status"].isin(OPEN_STATUSES)]
    open_elsewhere = exits.merge(
        still_open[["person_key", "programme_identifier", "enrolment_date"]], on="person_key"
    )
    open_elsewhere = open_elsewhere[
        (open_elsewhere["programme_identifier"] != open_elsewhere["from"])
        & (open_elsewhere["enrolment_date"] < open_elsewhere["exit_date"])
    ]
    already = set(zip(open_elsewhere["person_key"], open_elsewhere["from"], strict=True))

    def destination(row: pd.Series) -> str:
        key = (row["person_key"], row["from"], row["exit_date"])
        if row["enrolment_status"] == DECEASED:
            return "deceased"
        if key in first.index:
            return str(first[key])
        if (row["person_key"], row["from"]) in already:
            return "already enrolled"
        return "pending" if row["window_end"] > on else "none"

    exits["to"] = exits.apply(destination, axis=1) if len(exits) else pd.Series(dtype=str)
    return exits[["person_key", "from", "exit_date", "to"]].reset_index(drop=True)


def transition_table(
    frames: RegistryFrames, months: int = 6, as_of: dt.date | None = None
) -> pd.DataFrame:
    """Exits counted by programme left (rows) and destination (columns)."""
    moves = transitions(frames, months, as_of)
    table = pd.crosstab(moves["from"], moves["to"])
    table.index.name, table.columns.name = "from", None
    return table
