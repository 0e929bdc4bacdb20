"""The SQL of the coverage rollups: what each person and household contributes to which cells.

A cell is programme x area level x area x sex x age band. A person's contribution is one row per
distinct cell they are reached in by an active enrolment; a household's, one row per distinct
cell any of its members is reached in under it. Counting rows per cell therefore gives the same
distinct counts as ``coverage_sql.snapshot_in_database`` (tested equal), and the counts are
additive: a batch takes back the rows of the people and households it touched and adds their new
rows. The same statements serve the full rebuild (no scope) and a batch (scope = the temporary
table ``coverage_scope``: ``P`` people, ``K`` households, ``R`` people whose enrolments count).
"""

from __future__ import annotations

from ibr_service.analytics.coverage import UNKNOWN

__all__ = ["ATOMS", "CELL", "SCOPE_STEPS", "atoms_query"]

CELL = "programme, area_level, area, sex, age_band"

# The reach of active enrolments at every area level: person enrolments reach the person (their
# household: the smallest group they belong to), group enrolments reach every member.
_REACH = """
WITH household_of AS (
  SELECT member_key, MIN(subject_key) AS household_key FROM memberships
  {people_of_memberships} GROUP BY member_key
), reach AS (
  SELECT e.programme_identifier AS programme, e.subject_key AS person_key, h.household_key,
         s.area_level_1 AS a1, s.area_level_2 AS a2, s.area_level_3 AS a3, s.area_level_4 AS a4,
         s.sex, s.birth_date
  FROM enrolments e
  JOIN subjects s ON s.subject_key = e.subject_key AND s.kind = 'person'
  LEFT JOIN household_of h ON h.member_key = e.subject_key
  WHERE e.enrolment_status = '1' {people_of_enrolments}
  UNION ALL
  SELECT e.programme_identifier, m.member_key, e.subject_key,
         g.area_level_1, g.area_level_2, g.area_level_3, g.area_level_4, p.sex, p.birth_date
  FROM enrolments e
  JOIN subjects g ON g.subject_key = e.subject_key AND g.kind = 'group'
  JOIN memberships m ON m.subject_key = e.subject_key
  LEFT JOIN subjects p ON p.subject_key = m.member_key
  WHERE e.enrolment_status = '1' {groups_of_enrolments}
), levels AS (
  {levels}
), cells AS (
  SELECT programme, person_key, household_key, area_level,
         COALESCE(CASE area_level WHEN 1 THEN a1 WHEN 2 THEN a2 WHEN 3 THEN a3 ELSE a4 END,
                  '{unknown}') AS area,
         COALESCE(sex, '{unknown}') AS sex, {band} AS age_band
  FROM reach CROSS JOIN levels
)
"""

ATOMS = """
SELECT DISTINCT 'person' AS unit, person_key AS owner_key, programme, area_level,
       area, sex, age_band
FROM cells {only_people}
UNION
SELECT DISTINCT 'household', household_key, programme, area_level, area, sex, age_band
FROM cells WHERE household_key IS NOT NULL {only_households}
"""

_IN_SCOPE = "{column} IN (SELECT key FROM coverage_scope WHERE kind = '{kind}')"


def atoms_query(levels: tuple[int, ...], band: str, *, scoped: bool) -> str:
    """The contribution rows at the area ``levels`` (``band``: the age band CASE over
    birth_date); ``scoped``: only those of the people (P) and households (K) in
    ``coverage_scope``."""

    def where(column: str, kind: str, glue: str) -> str:
        return f"{glue} {_IN_SCOPE.format(column=column, kind=kind)}" if scoped else ""

    reach = _REACH.format(
        people_of_memberships=where("member_key", "R", "WHERE"),
        people_of_enrolments=where("e.subject_key", "R", "AND"),
        groups_of_enrolments=where("e.subject_key", "K", "AND"),
        levels=" UNION ALL ".join(f"SELECT {int(level)} AS area_level" for level in levels),
        band=band,
        unknown=UNKNOWN,
    )
    atoms = ATOMS.format(
        only_people=where("person_key", "P", "WHERE"),
        only_households=where("household_key", "K", "AND"),
    )
    return reach + atoms


# Widen a scope of touched subjects (S) to everything whose contribution may have changed:
# P: the subjects and the members of touched groups; K: the touched groups and every group a
# person of P belongs to (their household may be any of them); R: P and the members of K (their
# person enrolments count towards K's households).
SCOPE_STEPS = (
    "INSERT INTO coverage_scope (kind, key) SELECT 'P', key FROM coverage_scope WHERE kind = 'S'",
    "INSERT INTO coverage_scope (kind, key) SELECT DISTINCT 'P', m.member_key FROM memberships m "
    "WHERE m.subject_key IN (SELECT key FROM coverage_scope WHERE kind = 'S') "
    "AND m.member_key NOT IN (SELECT key FROM coverage_scope WHERE kind = 'P')",
    "INSERT INTO coverage_scope (kind, key) SELECT 'K', key FROM coverage_scope WHERE kind = 'S'",
    "INSERT INTO coverage_scope (kind, key) SELECT DISTINCT 'K', m.subject_key FROM memberships m "
    "WHERE m.member_key IN (SELECT key FROM coverage_scope WHERE kind = 'P') "
    "AND m.subject_key NOT IN (SELECT key FROM coverage_scope WHERE kind = 'K')",
    "INSERT INTO coverage_scope (kind, key) SELECT 'R', key FROM coverage_scope WHERE kind = 'P'",
    "INSERT INTO coverage_scope (kind, key) SELECT DISTINCT 'R', m.member_key FROM memberships m "
    "WHERE m.subject_key IN (SELECT key FROM coverage_scope WHERE kind = 'K') "
    "AND m.member_key NOT IN (SELECT key FROM coverage_scope WHERE kind = 'R')",
)
