"""Duplicates inside a programme: exact (one identity, several records) and probable (splink).

Exact: a subject holding two or more enrolments of one programme (the registry links records
by normalised identifier, so two records sharing an identifier are one subject), or two
subjects sharing a normalised identifier in one programme (an identity case left them apart).
Probable: pairs of people the linkage model scores at or above the deployment's threshold and
who are enrolled in a common programme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ibr_service.analytics import linkage
from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import RegistryFrames

__all__ = [
    "DEFAULT_MATCH_THRESHOLD",
    "FuzzyDuplicates",
    "exact_duplicates",
    "fuzzy_duplicates",
    "probable_duplicates",
]

DEFAULT_MATCH_THRESHOLD = 0.7  # justified in docs/analytics.md


def exact_duplicates(frames: RegistryFrames) -> pd.DataFrame:
    """One row per pair of records of one identity in one programme."""
    enrolments = frames.enrolments[
        ["subject_key", "enrolment_key", "programme_identifier", "beneficiary_programme_id"]
    ]
    by_subject = enrolments.assign(identity=enrolments["subject_key"])
    ids = frames.identifiers.assign(
        identity=lambda f: f["identifier_type"] + ":" + f["identifier_value"]
    )[["subject_key", "identity"]]
    by_identifier = enrolments.merge(ids, on="subject_key")
    keyed = pd.concat([by_subject, by_identifier], ignore_index=True)
    pairs = keyed.merge(keyed, on=["identity", "programme_identifier"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["enrolment_key_a"] < pairs["enrolment_key_b"]]
    pairs = pairs.drop_duplicates(["enrolment_key_a", "enrolment_key_b"])
    return pd.DataFrame(
        {
            "programme": pairs["programme_identifier"],
            "identity": pairs["identity"],
            "subject_key_a": pairs["subject_key_a"],
            "subject_key_b": pairs["subject_key_b"],
            "record_a": pairs["beneficiary_programme_id_a"],
            "record_b": pairs["beneficiary_programme_id_b"],
            "enrolment_key_a": pairs["enrolment_key_a"],
            "enrolment_key_b": pairs["enrolment_key_b"],
        }
    ).sort_values(["programme", "record_a", "record_b"], ignore_index=True)


@dataclass(frozen=True)
class FuzzyDuplicates:
    """Probable duplicate people, the model that scored them and the threshold used."""

    pairs: pd.DataFrame
    model: dict[str, Any]
    threshold: float


def _shared_programmes(enrolments: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    people = pd.unique(pd.concat([pairs["subject_key_l"], pairs["subject_key_r"]]))
    theirs = enrolments[enrolments["subject_key"].isin(people)]
    held = theirs.groupby("subject_key")["programme_identifier"].agg(frozenset)
    left = pairs["subject_key_l"].map(held)
    right = pairs["subject_key_r"].map(held)
    return pd.Series(
        [" ".join(sorted(a & b)) for a, b in zip(left, right, strict=True)],
        index=pairs.index,
        dtype=object,
    )


def fuzzy_duplicates(
    frames: RegistryFrames,
    *,
    threshold: float = DEFAULT_MATCH_THRESHOLD,
    model: dict[str, Any] | None = None,
    spark: Any = None,
) -> FuzzyDuplicates:
    """Probable duplicates inside a programme. ``model``: reuse a trained one (else train on
    these records); ``spark``: score on that Spark session instead of DuckDB."""
    records = linkage.linkage_input(frames)
    if records.empty:
        empty = pd.DataFrame(columns=["subject_key_l", "subject_key_r", "programmes"])
        return FuzzyDuplicates(empty, model or {}, threshold)
    model = model or linkage.train(records)
    return probable_duplicates(records, frames.enrolments, model, threshold, spark=spark)


def probable_duplicates(
    records: pd.DataFrame | str,
    enrolments: pd.DataFrame,
    model: dict[str, Any],
    threshold: float,
    *,
    spark: Any = None,
    connection: Any = None,
) -> FuzzyDuplicates:
    """Pairs of ``records`` (``linkage_input``, or a table of the DuckDB ``connection``) scored
    by ``model`` and sharing a programme of ``enrolments`` (subject_key, programme_identifier)."""
    if spark is None:
        pairs = linkage.predict_duckdb(records, model, threshold, connection=connection)
    elif isinstance(records, str):
        raise AnalyticsError("linkage on Spark takes the records as a frame, not a table name")
    else:
        pairs = linkage.predict_spark(records, model, threshold, spark)
    pairs.insert(2, "programmes", _shared_programmes(enrolments, pairs))
    pairs = pairs[pairs["programmes"] != ""].reset_index(drop=True)
    return FuzzyDuplicates(pairs, model, threshold)
