"""Data quality per SP-MIS feed (sender x programme): completeness, valid identifiers, staleness,
and, from the feed log, rejection rates and reasons and the identity cases its records opened.

National IDs are checked with the Verhoeff check digit (the mock countries' scheme, see
mock_data/README.md); other identifier types count as valid when present.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ibr_protocol.check_digits import verhoeff_valid
from ibr_service.analytics.feed_log import FeedLog
from ibr_service.analytics.frames import RegistryFrames

__all__ = ["feed_quality", "verhoeff_valid"]

NATIONAL_ID_TYPES = ("NID", "NATIONAL_ID")


def feed_quality(
    frames: RegistryFrames, as_of: dt.date | None = None, log: FeedLog | None = None
) -> pd.DataFrame:
    """One row per feed: records, share of records with each key field, valid national IDs,
    last event date and days since it (staleness); with ``log``, the sender's item answers
    (rejection rate and reasons) and the identity cases the feed opened."""
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
    if log is not None:
        out = _with_log(out, log)
    return out.rename(columns={"programme_identifier": "programme"})


def _with_log(out: pd.DataFrame, log: FeedLog) -> pd.DataFrame:
    """Add the log's figures; a sender whose every item was rejected still gets a row."""
    answers = log.answers.assign(items=log.answers["items"].astype(int))
    per_sender = answers.groupby("sender_id")["items"].sum().rename("items_answered")
    rejected = answers[answers["status"] == "rjct"]
    refused = rejected.groupby("sender_id")["items"].sum().rename("items_rejected")
    reasons = pd.Series(
        {
            sender: ", ".join(
                f"{r}={n}" for r, n in zip(rows["reason"], rows["items"], strict=True)
            )
            for sender, rows in rejected.groupby("sender_id")
        },
        dtype=object,
    )
    senders = pd.concat([per_sender, refused, reasons.rename("rejection_reasons")], axis=1)
    senders["items_rejected"] = senders["items_rejected"].fillna(0).astype(int)
    senders["rejection_rate"] = (senders["items_rejected"] / senders["items_answered"]).round(4)
    senders["rejection_reasons"] = senders["rejection_reasons"].fillna("")
    missing = sorted(set(senders.index) - set(out["sender_id"]))
    if missing:
        out = pd.concat(
            [out, pd.DataFrame({"sender_id": missing, "programme_identifier": None, "records": 0})],
            ignore_index=True,
        )
    out = out.merge(senders, left_on="sender_id", right_index=True, how="left")
    out = out.merge(log.identity_cases, on=["sender_id", "programme_identifier"], how="left")
    out["identity_cases"] = pd.to_numeric(out["identity_cases"]).fillna(0).astype(int)
    return out
