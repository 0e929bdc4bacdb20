"""The SQL of the coverage rollups: what each person and household contributes to which cells.

A cell is programme x area level x area x sex x age band. A person's contribution is one row per
distinct cell they are reached in by an active enrolment; a household's, one row per distinct
cell any of its members is reached in under it. Counting rows per cell therefore gives the same
distinct counts as ``coverage_sql.snapshot_in_database`` (tested equal), and the counts are
additive: a batch compares the rows of the people and households in its scope with their new
rows, deletes the rows that went, inserts the rows that came, and adds only that difference to
the cells. The same atoms serve the full rebuild (no scope) and a batch (scope: three key sets,
``people`` and ``households`` whose contributions are recomputed, and ``reached``, the people
whose enrolments count towards them).
"""

from __future__ import annotations

from ibr_service.analytics.coverage import UNKNOWN

__all__ = [
    "CELL",
    "CHANGED",
    "LEVELS",
    "ROW",
    "apply_changes",
    "atoms_of_reach",
    "atoms_parts",
    "key_set",
    "old_rows",
    "reach_query",
    "scope_ctes",
]

LEVELS = (1, 2, 3, 4)
"""The area levels: 1 (region) to 4."""
CELL = "programme, area_level, area, sex, age_band"
ROW = f"unit, owner_key, {CELL}"

# Both reaches below end alike: each reach row at every area level, with area, sex, age band.
_CELLS = """, levels AS (
  {levels}
), cells AS (
  SELECT programme, person_key, household_key, area_level,
         COALESCE(CASE area_level WHEN 1 THEN a1 WHEN 2 THEN a2 WHEN 3 THEN a3 ELSE a4 END,
                  '{unknown}') AS area,
         COALESCE(sex, '{unknown}') AS sex, {band} AS age_band
  FROM reach CROSS JOIN levels
)
"""

# The reach of active enrolments at every area level: person enrolments reach the person (their
# household: the smallest group they belong to), group enrolments reach every member.
_REACH = """
household_of AS (
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
)"""

# PostgreSQL's scoped reach: each key of the scope probes its rows through a LATERAL subquery
# (OFFSET 0 keeps it one: a nested loop, each loop pruned to the key's own partition), instead
# of every partition being searched for every key (16 times the index descents, measured 2 to
# 3 times slower). Memberships are looked up by member with ANY(ARRAY(...)): they are
# partitioned by group, so that lookup reaches every partition either way.
_SCOPE_BY_PROBE = """
touched AS (SELECT DISTINCT unnest(CAST(:subjects AS TEXT[])) AS k),
people AS (
  SELECT k FROM touched
  UNION SELECT m.member_key FROM touched t
  CROSS JOIN LATERAL (SELECT member_key FROM memberships m WHERE m.subject_key = t.k OFFSET 0) m
), households AS (
  SELECT k FROM touched
  UNION SELECT m.subject_key FROM memberships m
  WHERE m.member_key = ANY(ARRAY(SELECT k FROM people))
), reached AS (
  SELECT k FROM people
  UNION SELECT m.member_key FROM households h
  CROSS JOIN LATERAL (SELECT member_key FROM memberships m WHERE m.subject_key = h.k OFFSET 0) m
)"""
_REACH_BY_PROBE = """
household_of AS (
  SELECT member_key, MIN(subject_key) AS household_key FROM memberships
  WHERE member_key = ANY(ARRAY(SELECT k FROM reached)) GROUP BY member_key
), reach AS (
  SELECT e.programme_identifier AS programme, r.k AS person_key, h.household_key,
         s.area_level_1 AS a1, s.area_level_2 AS a2, s.area_level_3 AS a3, s.area_level_4 AS a4,
         s.sex, s.birth_date
  FROM reached r
  CROSS JOIN LATERAL (SELECT area_level_1, area_level_2, area_level_3, area_level_4, sex,
    birth_date FROM subjects s WHERE s.subject_key = r.k AND s.kind = 'person' OFFSET 0) s
  CROSS JOIN LATERAL (SELECT programme_identifier FROM enrolments e
    WHERE e.subject_key = r.k AND e.enrolment_status = '1' OFFSET 0) e
  LEFT JOIN household_of h ON h.member_key = r.k
  UNION ALL
  SELECT e.programme_identifier, m.member_key, hh.k,
         g.area_level_1, g.area_level_2, g.area_level_3, g.area_level_4, p.sex, p.birth_date
  FROM households hh
  CROSS JOIN LATERAL (SELECT area_level_1, area_level_2, area_level_3, area_level_4
    FROM subjects g WHERE g.subject_key = hh.k AND g.kind = 'group' OFFSET 0) g
  CROSS JOIN LATERAL (SELECT programme_identifier FROM enrolments e
    WHERE e.subject_key = hh.k AND e.enrolment_status = '1' OFFSET 0) e
  CROSS JOIN LATERAL (SELECT member_key FROM memberships m WHERE m.subject_key = hh.k OFFSET 0) m
  LEFT JOIN LATERAL (SELECT sex, birth_date FROM subjects p
    WHERE p.subject_key = m.member_key OFFSET 0) p ON true
)"""

_ATOMS = """
SELECT DISTINCT 'person' AS unit, person_key AS owner_key, programme, area_level,
       area, sex, age_band
FROM cells {only_people}
UNION
SELECT DISTINCT 'household', household_key, programme, area_level, area, sex, age_band
FROM cells WHERE household_key IS NOT NULL {only_households}
"""

# Widen the touched subjects to everything whose contribution may have changed: people, the
# subjects and the members of touched groups; households, the touched groups and every group a
# person of people belongs to (their household may be any of them); reached, people and the
# members of households (their person enrolments count towards those households).
_SCOPE = """
touched AS ({touched}),
people AS (
  SELECT k FROM touched
  UNION SELECT m.member_key FROM memberships m WHERE {members_of_touched}
), households AS (
  SELECT k FROM touched
  UNION SELECT m.subject_key FROM memberships m WHERE {groups_of_people}
), reached AS (
  SELECT k FROM people
  UNION SELECT m.member_key FROM memberships m WHERE {members_of_households}
)"""
_TOUCHED = {  # the batch's subject keys, one bound parameter
    "postgresql": "SELECT unnest(CAST(:subjects AS TEXT[])) AS k",
    "sqlite": "SELECT value AS k FROM json_each(:subjects)",
}
# Membership in a key set of the scope. On PostgreSQL ``ANY(ARRAY(SELECT ...))``, computed once
# before the rest: the planner then neither weighs thousands of keys bound as constants against
# every partition's statistics (seconds of planning) nor lets an estimate of the set's size turn
# into hash joins over whole tables.
_IN_KEYS = {
    "postgresql": "{column} = ANY(ARRAY(SELECT k FROM {keys}))",
    "sqlite": "{column} IN (SELECT k FROM {keys})",
}


def key_set(dialect: str, column: str, keys: str) -> str:
    """``column`` is one of the keys of the scope's set ``keys``."""
    return _IN_KEYS[dialect].format(column=column, keys=keys)


def scope_ctes(dialect: str) -> str:
    """The common table expressions ``touched`` (bound as ``:subjects``), ``people``,
    ``households`` and ``reached``."""
    return _SCOPE.format(
        touched=_TOUCHED[dialect],
        members_of_touched=key_set(dialect, "m.subject_key", "touched"),
        groups_of_people=key_set(dialect, "m.member_key", "people"),
        members_of_households=key_set(dialect, "m.subject_key", "households"),
    )


def reach_query() -> str:
    """The reach of every active enrolment (columns programme, person_key, household_key, a1 to
    a4, sex, birth_date): the rebuild keeps it in a table and reads it once per area level."""
    unscoped = _REACH.format(
        people_of_memberships="", people_of_enrolments="", groups_of_enrolments=""
    )
    return f"WITH {unscoped} SELECT * FROM reach"  # noqa: S608 (module constants only)


def atoms_of_reach(table: str, level: int, band: str) -> str:
    """Every contribution row (``unit, owner_key, CELL``) at area ``level`` from the reach kept
    in ``table`` (``band``: the age band CASE over birth_date)."""
    cells = _CELLS.format(levels=_levels((level,)), band=band, unknown=UNKNOWN)
    atoms = _ATOMS.format(only_people="", only_households="")
    return f"WITH reach AS (SELECT * FROM {table}){cells}{atoms}"  # noqa: S608 (our names)


def atoms_parts(levels: tuple[int, ...], band: str, dialect: str) -> tuple[str, str]:
    """The contribution rows of the scope of the touched subjects (``scope_ctes``) as a WITH
    clause and the SELECT that follows it."""
    cells = _CELLS.format(levels=_levels(levels), band=band, unknown=UNKNOWN)
    # A semi-join, not key_set: the scope's own rows have no index, and ANY(ARRAY(...)) is a
    # linear search of the array for each row, quadratic in the batch (10,000 subjects at
    # 560,000 enrolments: 134 of the statement's 145 s).
    atoms = _ATOMS.format(
        only_people="WHERE person_key IN (SELECT k FROM people)",
        only_households="AND household_key IN (SELECT k FROM households)",
    )
    if dialect == "postgresql":
        return "WITH " + _SCOPE_BY_PROBE + "," + _REACH_BY_PROBE + cells, atoms
    reach = _REACH.format(
        people_of_memberships="WHERE " + key_set(dialect, "member_key", "reached"),
        people_of_enrolments="AND " + key_set(dialect, "e.subject_key", "reached"),
        groups_of_enrolments="AND " + key_set(dialect, "e.subject_key", "households"),
    )
    return "WITH " + scope_ctes(dialect) + "," + reach + cells, atoms


def _levels(levels: tuple[int, ...]) -> str:
    return " UNION ALL ".join(f"SELECT {int(level)} AS area_level" for level in levels)


def old_rows(dialect: str) -> str:
    """The stored contribution rows of the scope's ``people`` and ``households``; one SELECT
    per unit, so that each probes the primary key (unit, owner_key, ...)."""
    return " UNION ALL ".join(
        f"SELECT {ROW} FROM coverage_contributions "  # noqa: S608
        f"WHERE unit = '{unit}' AND {key_set(dialect, 'owner_key', keys)}"
        for unit, keys in (("person", "people"), ("household", "households"))
    )


CHANGED = "SELECT {row} FROM {a} EXCEPT SELECT {row} FROM {b}"
"""The rows of ``a`` not in ``b`` (``a``: the old rows, ``b``: the new, for the rows that went)."""


def apply_changes(went: str, came: str) -> str:
    """Add to the cells the rows that ``came`` and take off those that ``went`` (two SELECTs of
    ``unit, CELL``). Cells in a fixed order: concurrent writers lock the rows they share in the
    same order. ``WHERE true``: SQLite needs it to read ON CONFLICT after INSERT ... SELECT."""
    person = "CASE WHEN unit = 'person' THEN sign ELSE 0 END"
    household = "CASE WHEN unit = 'household' THEN sign ELSE 0 END"
    return (
        f"INSERT INTO coverage_rollups ({CELL}, beneficiaries, households) "  # noqa: S608
        f"SELECT {CELL}, SUM({person}), SUM({household}) "
        f"FROM (SELECT unit, {CELL}, -1 AS sign FROM ({went}) AS went "
        f"UNION ALL SELECT unit, {CELL}, 1 FROM ({came}) AS came) AS changes WHERE true "
        f"GROUP BY {CELL} HAVING SUM({person}) <> 0 OR SUM({household}) <> 0 ORDER BY {CELL} "
        f"ON CONFLICT ({CELL}) DO UPDATE SET "
        "beneficiaries = coverage_rollups.beneficiaries + excluded.beneficiaries, "
        "households = coverage_rollups.households + excluded.households"
    )
