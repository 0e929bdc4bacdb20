"""Data quality per SP-MIS feed (sender x programme): completeness, valid identifiers, staleness.

National IDs are checked with the Verhoeff check digit (the mock countries' scheme, see
mock_data/README.md); other identifier types count as valid when present.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ibr_service.analytics.frames import RegistryFrames

__all__ = ["feed_quality", "verhoeff_valid"]

_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip
NATIONAL_ID_TYPES = ("NID", "NATIONAL_ID")


def verhoeff_valid(value: str) -> bool:
    """True when ``value`` is all digits and its last digit is its Verhoeff check digit."""
    if not value.isascii() or not value.isdigit():
        return False
    check = 0
    for position, digit in enumerate(reversed(value)):
        check = _D[check][_P[position % 8][int(digit)]]
    return check == 0


def feed_quality(frames: RegistryFrames, as_of: dt.date | None = None) -> pd.DataFrame:
    """One row per feed: records, share of records with each key field, valid national IDs,
    last event date and days since it (staleness)."""
    on = pd.Timestamp(as_of or dt.date.today())
    subjects = frames.subjects.set_index("subject_key")
    ids = frames.identifiers
    national = ids[ids["identifier_type"].isin(NATIONAL_ID_TYPES)]
    valid = national.assign(valid=national["identifier_value"].astype(str).map(verhoeff_valid))
    valid = valid.groupby("subject_key")["valid"].all()
    has_id = set(ids["subject_key"])
    records = frames.enrolments.assign(
        has_identifier=lambda f: f["subject_key"].isin(has_id),
        has_sex=lambda f: f["subject_key"].map(subjects["sex"]).notna(),
        has_birth_date=lambda f: f["subject_key"].map(subjects["birth_date"]).notna(),
        has_area=lambda f: f["subject_key"].map(subjects["area_code"]).notna(),
        national_id_valid=lambda f: f["subject_key"].map(valid),
        event_date=lambda f: f["status_change_date"].fillna(f["enrolment_date"]),
    )
    people = records["subject_key"].map(subjects["kind"]) == "person"
    for column in ("has_sex", "has_birth_date"):  # a group has neither
        records[column] = records[column].astype("boolean").mask(~people)
    out = records.groupby(["sender_id", "programme_identifier"], as_index=False).agg(
        records=("enrolment_key", "size"),
        with_identifier=("has_identifier", "mean"),
        with_sex=("has_sex", "mean"),
        with_birth_date=("has_birth_date", "mean"),
        with_area=("has_area", "mean"),
        national_ids=("national_id_valid", "count"),
        valid_national_ids=("national_id_valid", "mean"),
        last_event=("event_date", "max"),
    )
    out["days_since_last_event"] = (on - out["last_event"]).dt.days
    shares = ["with_identifier", "with_sex", "with_birth_date", "with_area", "valid_national_ids"]
    out[shares] = out[shares].astype(float).round(4)
    return out.rename(columns={"programme_identifier": "programme"})
