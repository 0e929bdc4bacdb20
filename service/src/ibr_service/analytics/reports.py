"""The reports behind ``ibr report ...`` and the analytics API: named tables plus a summary.

Every statistical table goes through disclosure control before it is returned (``k``);
case lists (overlaps, duplicates) are operational data for authorised users and keep their
rows whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ibr_service.analytics import coverage, disclosure
from ibr_service.analytics.duplicates import (
    DEFAULT_MATCH_THRESHOLD,
    exact_duplicates,
    fuzzy_duplicates,
)
from ibr_service.analytics.feed_log import FeedLog
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.analytics.overlaps import detect_overlaps
from ibr_service.analytics.quality import checked_types, feed_quality
from ibr_service.analytics.rules import ProgrammeRules
from ibr_service.analytics.scoring import pairs_of, score_pairs, truth_pairs
from ibr_service.analytics.transitions import transition_table
from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES, IdentifierTypes

__all__ = [
    "Report",
    "coverage_report",
    "duplicates_report",
    "overlaps_report",
    "overlaps_report_of",
    "quality_report",
    "snapshot_report",
    "transitions_report",
]


@dataclass(frozen=True)
class Report:
    """A report: its tables (the first is the main one) and a summary of figures."""

    name: str
    tables: dict[str, pd.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)


def _published(protected: disclosure.ProtectedTable, name: str) -> pd.DataFrame:
    table = protected.published()
    table.index.name = table.index.name or name
    return table.reset_index()


def _mirror_suppressed(matrix: pd.DataFrame, k: int) -> pd.DataFrame:
    """Suppress cells under k in a symmetric matrix and their mirror; no margins published."""
    small = (matrix > 0) & (matrix < k)
    hidden = small | small.T.reindex(index=small.index, columns=small.columns).fillna(False)
    return matrix.astype("Int64").mask(hidden).reset_index()


def coverage_report(
    frames: RegistryFrames,
    *,
    level: int = 1,
    period: str = "year",
    as_of: dt.date | None = None,
    k: int = disclosure.DEFAULT_K,
    reference: pd.DataFrame | None = None,
    snapshot: pd.DataFrame | None = None,
) -> Report:
    """``snapshot``: the enrolment snapshot already counted (e.g. from the rollups)."""
    if snapshot is None:
        snapshot = coverage.enrolment_snapshot(frames, level, as_of)
    cube = coverage.benefit_cube(frames, level, period)
    rows = ["programme", "area", "sex"]
    tables = {
        "snapshot": disclosure.protect_long(
            snapshot, rows, "age_band", "beneficiaries", k, also_mask=("households",)
        ),
        "benefits": disclosure.protect_long(
            cube,
            ["programme", "area", "period", "currency", "sex"],
            "age_band",
            "beneficiaries",
            k,
            also_mask=("households", "benefit_value"),
        ),
    }
    by_area = snapshot.pivot_table(
        index="programme", columns="area", values="beneficiaries", aggfunc="sum", fill_value=0
    )
    tables["by_area"] = _published(disclosure.protect_table(by_area, k), "programme")
    over_time = cube.groupby(["programme", "currency", "period"], as_index=False)[
        ["beneficiaries", "benefit_value"]
    ].sum()
    tables["value_over_time"] = disclosure.protect_long(
        over_time, ["programme", "currency"], "period", "beneficiaries", k,
        also_mask=("benefit_value",),
    )  # fmt: skip
    people = coverage.reach(frames, level)
    people = people[people["enrolment_status"] == "1"].drop_duplicates("person_key")
    on = pd.Timestamp(as_of or dt.date.today())
    bands = coverage.age_band(coverage.age_on(people["birth_date"], on))
    age_sex = pd.crosstab(people["sex"], bands.rename("age_band"))
    age_sex = age_sex.reindex(columns=[b for b in coverage.band_labels() if b in age_sex.columns])
    tables["age_sex"] = _published(disclosure.protect_table(age_sex, k), "sex")
    multiplicity = coverage.programme_multiplicity(frames).set_index("programmes").T
    tables["multiplicity"] = _published(disclosure.protect_table(multiplicity, k), "measure")
    tables["overlap_matrix"] = _mirror_suppressed(coverage.overlap_matrix(frames), k)
    if reference is not None:
        share = coverage.coverage_share(frames, reference, level, as_of)
        protected = disclosure.protect_long(
            share, ["area", "sex"], "age_band", "beneficiaries", k, also_mask=("coverage",)
        )
        tables["coverage_share"] = protected
        tables["reference_age_sex"] = reference.pivot_table(
            index="sex", columns="age_band", values="population", aggfunc="sum"
        ).reset_index()
    summary = {
        "as_of": on.date().isoformat(),
        "area_level": level,
        "period": period,
        "k": k,
        "people_reached": int(people["person_key"].nunique()),
    }
    return Report("coverage", tables, summary)


def snapshot_report(
    snapshot: pd.DataFrame,
    *,
    source: str,
    level: int,
    as_of: dt.date,
    k: int = disclosure.DEFAULT_K,
) -> Report:
    """The coverage snapshot alone (what the rollups answer fast): active beneficiaries and
    households by programme x area x sex x age band, and by programme x area; ``source`` says
    whether it came from the rollups or was counted ad hoc."""
    rows = ["programme", "area", "sex"]
    tables = {
        "snapshot": disclosure.protect_long(
            snapshot, rows, "age_band", "beneficiaries", k, also_mask=("households",)
        )
    }
    by_area = snapshot.pivot_table(
        index="programme", columns="area", values="beneficiaries", aggfunc="sum", fill_value=0
    )
    tables["by_area"] = _published(disclosure.protect_table(by_area, k), "programme")
    summary = {"as_of": as_of.isoformat(), "area_level": level, "k": k, "source": source}
    return Report("snapshot", tables, summary)


def overlaps_report(frames: RegistryFrames, rules: ProgrammeRules) -> Report:
    return overlaps_report_of(detect_overlaps(frames, rules))


def overlaps_report_of(cases: pd.DataFrame) -> Report:
    """The report of overlaps already found (on frames or in the database)."""
    by_pair = cases.groupby(["programme_a", "programme_b", "unit"]).size()
    summary = {
        "overlaps": len(cases),
        "concurrent": int(cases["concurrent"].sum()) if len(cases) else 0,
        "by_pair": {f"{a} x {b} ({u})": int(n) for (a, b, u), n in by_pair.items()},
    }
    return Report("overlaps", {"overlaps": cases}, summary)


def duplicates_report(
    frames: RegistryFrames,
    *,
    truth: list[dict[str, Any]] | None = None,
    threshold: float = DEFAULT_MATCH_THRESHOLD,
    spark: Any = None,
    model: dict[str, Any] | None = None,
) -> Report:
    exact = exact_duplicates(frames)
    fuzzy = fuzzy_duplicates(frames, threshold=threshold, spark=spark, model=model)
    summary: dict[str, Any] = {
        "exact": len(exact),
        "probable": len(fuzzy.pairs),
        "threshold": threshold,
    }
    if truth is not None:
        summary["scores"] = [
            score_pairs(
                "duplicate_in_programme",
                truth_pairs(truth, "duplicate_in_programme"),
                pairs_of(exact, "record_a", "record_b"),
            ).as_dict(),
            score_pairs(
                "fuzzy_duplicate",
                truth_pairs(truth, "fuzzy_duplicate", frames),
                pairs_of(fuzzy.pairs, "subject_key_l", "subject_key_r"),
            ).as_dict(),
        ]
    return Report("duplicates", {"exact": exact, "probable": fuzzy.pairs}, summary)


def transitions_report(
    frames: RegistryFrames, *, months: int = 6, as_of: dt.date | None = None, k: int = 10
) -> Report:
    table = transition_table(frames, months, as_of)
    protected = _published(disclosure.protect_table(table, k), "from")
    return Report("transitions", {"transitions": protected}, {"months": months, "k": k})


def quality_report(
    frames: RegistryFrames,
    *,
    as_of: dt.date | None = None,
    log: FeedLog | None = None,
    identifier_types: IdentifierTypes = DEFAULT_IDENTIFIER_TYPES,
) -> Report:
    table = feed_quality(frames, as_of, log, identifier_types)
    summary = {"feeds": len(table), "checked_identifier_types": checked_types(identifier_types)}
    return Report("quality", {"feeds": table}, summary)
