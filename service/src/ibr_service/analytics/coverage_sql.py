"""The coverage snapshot counted by the database (SQLite or PostgreSQL).

The same counts as ``coverage.enrolment_snapshot`` (tested equal), without reading the registry
into memory: active enrolments, household enrolments reaching their members, a person's
household being the smallest group key they belong to, ages in calendar years on ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ibr_service.analytics.coverage import AGE_BANDS, UNKNOWN, band_labels
from ibr_service.analytics.errors import AnalyticsError

__all__ = ["band_case", "snapshot_in_database", "snapshot_query", "years_before"]

# Filled with the area column (area_level_1..4, checked) and the age band CASE built from
# constants; every value (dates) is a bound parameter.
_SNAPSHOT = """
WITH household_of AS (
  SELECT member_key, MIN(subject_key) AS household_key FROM memberships GROUP BY member_key
), reach AS (
  SELECT e.programme_identifier AS programme, e.subject_key AS person_key,
         h.household_key, s.{area} AS area, s.sex, s.birth_date
  FROM enrolments e
  JOIN subjects s ON s.subject_key = e.subject_key AND s.kind = 'person'
  LEFT JOIN household_of h ON h.member_key = e.subject_key
  WHERE e.enrolment_status = '1'
  UNION ALL
  SELECT e.programme_identifier, m.member_key, e.subject_key, g.{area}, p.sex, p.birth_date
  FROM enrolments e
  JOIN subjects g ON g.subject_key = e.subject_key AND g.kind = 'group'
  JOIN memberships m ON m.subject_key = e.subject_key
  LEFT JOIN subjects p ON p.subject_key = m.member_key
  WHERE e.enrolment_status = '1'
)
SELECT programme, COALESCE(area, '{unknown}') AS area, COALESCE(sex, '{unknown}') AS sex,
       {band} AS age_band,
       COUNT(DISTINCT person_key) AS beneficiaries, COUNT(DISTINCT household_key) AS households
FROM reach
GROUP BY programme, COALESCE(area, '{unknown}'), COALESCE(sex, '{unknown}'), {band}
"""


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (28 February for a 29th in a year that has none)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def band_case(on: dt.date) -> tuple[str, dict[str, str]]:
    """A CASE giving the age band label: someone born on or before ``on`` minus N years is N+."""
    labels = band_labels()
    # ISO text: SQLite stores dates as such, PostgreSQL casts it to the column's date type.
    params = {f"born_{low}": years_before(on, low).isoformat() for low in AGE_BANDS[1:]}
    whens = [f"WHEN birth_date IS NULL THEN '{UNKNOWN}'"]
    for (low, high), label in zip(itertools.pairwise(AGE_BANDS), labels, strict=False):
        condition = f"birth_date > :born_{high}"
        if low > 0:
            condition += f" AND birth_date <= :born_{low}"
        whens.append(f"WHEN {condition} THEN '{label}'")
    whens.append(f"WHEN birth_date <= :born_{AGE_BANDS[-1]} THEN '{labels[-2]}'")
    return "CASE " + " ".join(whens) + f" ELSE '{UNKNOWN}' END", params


def snapshot_query(level: int, on: dt.date) -> tuple[str, dict[str, str]]:
    """The snapshot's SQL at area ``level`` (1 to 4) with ages on ``on``, and its parameters."""
    if level not in (1, 2, 3, 4):
        raise AnalyticsError(f"area level must be 1 to 4, got {level}")
    band, params = band_case(on)
    return _SNAPSHOT.format(area=f"area_level_{level}", band=band, unknown=UNKNOWN), params


def snapshot_in_database(
    engine: Engine, level: int = 1, as_of: dt.date | None = None
) -> pd.DataFrame:
    """Active beneficiaries and households by programme x area x sex x age band, counted in SQL."""
    query, params = snapshot_query(level, as_of or dt.date.today())
    with engine.connect() as connection:
        out = pd.read_sql(sa.text(query), connection, params=params)
    out[["beneficiaries", "households"]] = out[["beneficiaries", "households"]].astype(int)
    keys = ["programme", "area", "sex", "age_band"]
    return out.sort_values(keys, ignore_index=True)
