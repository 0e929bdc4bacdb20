"""Coverage and M&E: who is reached by which programme, where, of which sex and age, and how much.

A household enrolment reaches every member of the household; a person enrolment reaches the
person and counts their household. Benefit value of a household enrolment is shared equally
among its members (per-capita attribution), so that value by sex and age adds up to the total.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pandas as pd

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import RegistryFrames

__all__ = [
    "AGE_BANDS",
    "age_band",
    "age_on",
    "band_labels",
    "benefit_cube",
    "coverage_share",
    "enrolment_snapshot",
    "load_reference_population",
    "overlap_matrix",
    "programme_multiplicity",
    "reach",
]

AGE_BANDS = (0, 5, 18, 35, 60, 65, 80)  # lower bounds: 0-4, 5-17, 18-34, ..., 80+
REACH_COLUMNS = [
    "enrolment_key", "subject_key", "person_key", "household_key", "programme_identifier",
    "enrolment_status", "enrolment_date", "status_change_date", "area", "sex", "birth_date",
    "reached",
]  # fmt: skip
NOT_PAID = ("2", "4", "5")  # payment status: not successful, cancelled, returned
PERIODS = {"month": "M", "quarter": "Q", "year": "Y"}
UNKNOWN = "unknown"


def band_labels() -> list[str]:
    """The age band labels in age order, then ``unknown``."""
    labels = [f"{low}-{high - 1}" for low, high in itertools.pairwise(AGE_BANDS)]
    return [*labels, f"{AGE_BANDS[-1]}+", UNKNOWN]


def age_band(age: pd.Series) -> pd.Series:
    """``'0-4'``, ``'5-17'``, ..., ``'80+'``; unknown ages are ``'unknown'``."""
    bands = pd.cut(age, bins=[*AGE_BANDS, 200], labels=band_labels()[:-1], right=False)
    return bands.astype(object).where(bands.notna(), UNKNOWN)


def age_on(birth: pd.Series, on: pd.Series | pd.Timestamp) -> pd.Series:
    """Age in whole years on ``on`` (calendar: one more on each birthday)."""
    birth = pd.to_datetime(birth)
    if isinstance(on, pd.Timestamp):
        year, month, day = on.year, on.month, on.day
    else:
        year, month, day = on.dt.year, on.dt.month, on.dt.day
    before_birthday = (month < birth.dt.month) | ((month == birth.dt.month) & (day < birth.dt.day))
    return (year - birth.dt.year - before_birthday.astype(int)).astype("Float64")


def reach(frames: RegistryFrames, level: int = 1) -> pd.DataFrame:
    """One row per (enrolment, person reached) with the person's sex, birth date and area."""
    if level not in (1, 2, 3, 4):
        raise AnalyticsError(f"area level must be 1 to 4, got {level}")
    subjects = frames.subjects.set_index("subject_key")
    kind = frames.enrolments["subject_key"].map(subjects["kind"])
    direct = frames.enrolments[kind == "person"].assign(
        person_key=lambda f: f["subject_key"], household_key=None
    )
    first_group = frames.memberships.groupby("member_key")["subject_key"].min()
    direct["household_key"] = direct["person_key"].map(first_group)
    groups = frames.enrolments[kind == "group"].merge(frames.memberships, on="subject_key")
    groups = groups.rename(columns={"member_key": "person_key"})
    groups["household_key"] = groups["subject_key"]
    rows = pd.concat([direct, groups], ignore_index=True)
    area = f"area_level_{level}"
    rows["area"] = rows["subject_key"].map(subjects[area]).fillna(UNKNOWN)
    rows["sex"] = rows["person_key"].map(subjects["sex"]).fillna(UNKNOWN)
    rows["birth_date"] = rows["person_key"].map(subjects["birth_date"])
    rows["reached"] = rows.groupby("enrolment_key")["person_key"].transform("size")
    return rows[REACH_COLUMNS]


def enrolment_snapshot(
    frames: RegistryFrames, level: int = 1, as_of: dt.date | None = None
) -> pd.DataFrame:
    """Active beneficiaries and households by programme x area x sex x age band, on ``as_of``."""
    on = pd.Timestamp(as_of or dt.date.today())
    rows = reach(frames, level)
    rows = rows[rows["enrolment_status"] == "1"]
    rows = rows.assign(age_band=age_band(age_on(rows["birth_date"], on)))
    keys = ["programme_identifier", "area", "sex", "age_band"]
    out = rows.groupby(keys, as_index=False).agg(
        beneficiaries=("person_key", "nunique"), households=("household_key", "nunique")
    )
    return out.rename(columns={"programme_identifier": "programme"})


def benefit_cube(frames: RegistryFrames, level: int = 1, period: str = "year") -> pd.DataFrame:
    """Paid beneficiaries, households and benefit value by programme x area x sex x age band x
    period (of the benefit's ``period_start``) x currency. Failed, cancelled and returned
    payments are left out."""
    if period not in PERIODS:
        raise AnalyticsError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    people = reach(frames, level).drop(columns=["programme_identifier", "subject_key"])
    benefits = frames.benefits[~frames.benefits["payment_status"].isin(NOT_PAID)]
    paid = benefits.merge(people, on="enrolment_key")
    paid = paid[paid["period_start"].notna()]
    paid = paid.assign(
        period=paid["period_start"].dt.to_period(PERIODS[period]).astype(str),
        age_band=age_band(age_on(paid["birth_date"], paid["period_start"])),
        share=paid["amount"] / paid["reached"],
    )
    keys = ["programme_identifier", "area", "sex", "age_band", "period", "currency"]
    out = paid.groupby(keys, as_index=False).agg(
        beneficiaries=("person_key", "nunique"),
        households=("household_key", "nunique"),
        benefit_value=("share", "sum"),
    )
    out["benefit_value"] = out["benefit_value"].round(6)  # rounding per cell would drift totals
    return out.rename(columns={"programme_identifier": "programme"})


def _active_people(frames: RegistryFrames) -> pd.DataFrame:
    rows = reach(frames)
    return rows.loc[rows["enrolment_status"] == "1", ["person_key", "programme_identifier"]]


def programme_multiplicity(frames: RegistryFrames) -> pd.DataFrame:
    """How many people receive 1, 2, 3+ programmes at once (active enrolments)."""
    per_person = _active_people(frames).groupby("person_key")["programme_identifier"].nunique()
    label = per_person.clip(upper=3).map({1: "1", 2: "2", 3: "3+"})
    counts = label.value_counts().reindex(["1", "2", "3+"], fill_value=0)
    return pd.DataFrame({"programmes": counts.index, "people": counts.to_numpy()})


def overlap_matrix(frames: RegistryFrames) -> pd.DataFrame:
    """People active in both programmes (diagonal: people active in the programme)."""
    held = _active_people(frames).drop_duplicates()
    pairs = held.merge(held, on="person_key")
    matrix = pd.crosstab(pairs["programme_identifier_x"], pairs["programme_identifier_y"])
    matrix.index.name, matrix.columns.name = "programme", None
    return matrix


def load_reference_population(path: Path) -> pd.DataFrame:
    """A CSV with ``area_code,sex,age_band,population`` (age bands as ``age_band`` labels)."""
    try:
        table = pd.read_csv(path, dtype={"area_code": str, "sex": str, "age_band": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise AnalyticsError(f"cannot read reference population {path}: {error}") from None
    missing = {"area_code", "sex", "age_band", "population"} - set(table.columns)
    if missing:
        raise AnalyticsError(f"{path}: missing columns {', '.join(sorted(missing))}")
    if pd.to_numeric(table["population"], errors="coerce").isna().any():
        raise AnalyticsError(f"{path}: population must be a number on every row")
    return table


def coverage_share(
    frames: RegistryFrames, reference: pd.DataFrame, level: int = 1, as_of: dt.date | None = None
) -> pd.DataFrame:
    """People in any programme as a share of the reference population, by area x sex x age."""
    on = pd.Timestamp(as_of or dt.date.today())
    rows = reach(frames, level)
    rows = rows[rows["enrolment_status"] == "1"]
    rows = rows.assign(age_band=age_band(age_on(rows["birth_date"], on)))
    covered = rows.groupby(["area", "sex", "age_band"], as_index=False).agg(
        beneficiaries=("person_key", "nunique")
    )
    reference = reference.rename(columns={"area_code": "area"})
    out = reference.merge(covered, on=["area", "sex", "age_band"], how="left")
    out["beneficiaries"] = out["beneficiaries"].fillna(0).astype(int)
    out["coverage"] = (out["beneficiaries"] / out["population"]).round(4)
    return out[["area", "sex", "age_band", "population", "beneficiaries", "coverage"]]
