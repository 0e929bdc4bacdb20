"""Data quality per SP-MIS feed (sender x programme): completeness, valid identifiers, staleness,
and, from the feed log, rejection rates and reasons and the identity cases its records opened.

Identifier validity is counted per identifier type with a check scheme in the deployment's
identifier types (``IBR_IDENTIFIER_TYPES_FILE``, core/identity.py): ``<TYPE>_sent`` source
records (a person or household in one of the feed's records) that sent that type and
``<TYPE>_valid`` the share whose values all passed. The registry decides at ingest and keeps the
outcome with each source record (a failed identifier is never linked, so the ``identifiers``
table cannot tell); records read from a file are checked as they are read.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ibr_service.analytics.feed_log import FeedLog
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES, IdentifierTypes

__all__ = ["checked_types", "feed_quality"]

FEED = ["sender_id", "programme_identifier"]


def checked_types(types: IdentifierTypes) -> list[str]:
    """The codes of the types whose values can fail a check, in rank order."""
    return [t.code for t in types.types if t.checked]


def feed_quality(
    frames: RegistryFrames,
    as_of: dt.date | None = None,
    log: FeedLog | None = None,
    identifier_types: IdentifierTypes = DEFAULT_IDENTIFIER_TYPES,
) -> pd.DataFrame:
    """One row per feed: records, share of records with each key field, identifiers sent and
    valid per checked type, last event date and days since it (staleness); with ``log``, the
    sender's item answers (rejection rate and reasons) and the identity cases the feed opened."""
    on = pd.Timestamp(as_of or dt.date.today())
    subjects = frames.subjects.set_index("subject_key")
    has_id = set(frames.identifiers["subject_key"])
    records = frames.enrolments.assign(
        has_identifier=lambda f: f["subject_key"].isin(has_id),
        has_sex=lambda f: f["subject_key"].map(subjects["sex"]).notna(),
        has_birth_date=lambda f: f["subject_key"].map(subjects["birth_date"]).notna(),
        has_area=lambda f: f["subject_key"].map(subjects["area_code"]).notna(),
        event_date=lambda f: f["status_change_date"].fillna(f["enrolment_date"]),
    )
    people = records["subject_key"].map(subjects["kind"]) == "person"
    for column in ("has_sex", "has_birth_date"):  # a group has neither
        records[column] = records[column].astype("boolean").mask(~people)
    out = records.groupby(FEED, as_index=False).agg(
        records=("enrolment_key", "size"),
        with_identifier=("has_identifier", "mean"),
        with_sex=("has_sex", "mean"),
        with_birth_date=("has_birth_date", "mean"),
        with_area=("has_area", "mean"),
        last_event=("event_date", "max"),
    )
    shares = ["with_identifier", "with_sex", "with_birth_date", "with_area"]
    out[shares] = out[shares].astype(float).round(4)
    out = _with_checks(out, frames.identifier_checks, checked_types(identifier_types))
    out["days_since_last_event"] = (on - out["last_event"]).dt.days
    if log is not None:
        out = _with_log(out, log)
    return out.rename(columns={"programme_identifier": "programme"})


def _with_checks(out: pd.DataFrame, checks: pd.DataFrame, types: list[str]) -> pd.DataFrame:
    """``<TYPE>_sent`` and ``<TYPE>_valid`` for each checked type, after the completeness
    shares (0 sent and no share where a feed sent none)."""
    at = pd.MultiIndex.from_frame(out[FEED])
    checks = checks.astype({"passed": bool})
    columns = {}
    for code in types:
        passed = checks[checks["identifier_type"] == code].groupby(FEED)["passed"]
        columns[f"{code}_sent"] = passed.size().reindex(at, fill_value=0).to_numpy()
        columns[f"{code}_valid"] = passed.mean().reindex(at).astype(float).round(4).to_numpy()
    before = out.columns.get_loc("last_event")
    return pd.concat(
        [out.iloc[:, :before], pd.DataFrame(columns, index=out.index), out.iloc[:, before:]],
        axis=1,
    )


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
