"""The incremental overlap check in one query: the overlaps of the identities a batch touched.

What ``overlaps.detect_overlaps(frames_for_subjects(keys), rules, subject_keys=keys)`` finds on
frames, the database finds here in one statement, and only the overlaps come back (plain rows,
no frames: this runs in every ingested batch). The identities checked are the batch's subjects,
their households, and the housemates in those households, as on frames; the rules' excluded
pairs are matched in the query, so pairs of programmes that may combine never leave it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ibr_service.analytics.frames import OPEN_STATUSES
from ibr_service.analytics.overlaps import OVERLAP_COLUMNS, case_id_of
from ibr_service.analytics.overlaps_sql import OPEN_ONLY, PAIR_FIELDS
from ibr_service.analytics.rules import ProgrammeRules
from ibr_service.analytics.sql_source import without_jit

__all__ = ["overlaps_of_touched"]

Touched = Literal["subjects", "enrolments"]
_KEYS = {  # the batch's keys as a one-column table: an array on PostgreSQL, JSON on SQLite
    "postgresql": "SELECT unnest(CAST(:keys AS TEXT[])) AS k",
    "sqlite": "SELECT value AS k FROM json_each(:keys)",
}
_TOUCHED: dict[Touched, str] = {
    "subjects": "SELECT k AS subject_key FROM batch",
    "enrolments": "SELECT DISTINCT e.subject_key FROM enrolments e "
    "WHERE e.enrolment_key IN (SELECT k FROM batch)",
}
_COLUMNS = "enrolment_key, programme_identifier, beneficiary_programme_id, "
_COLUMNS += "enrolment_status, enrolment_date"
# The identities and their enrolments: on SQLite by `IN (subquery)`, planned well there.
_FIND_SQLITE = """
touched AS ({touched}),
grp AS (
  SELECT m.subject_key FROM memberships m WHERE m.member_key IN (SELECT subject_key FROM touched)
  UNION
  SELECT m.subject_key FROM memberships m WHERE m.subject_key IN (SELECT subject_key FROM touched)
),
housing AS (
  SELECT m.subject_key, m.member_key FROM memberships m
  WHERE m.subject_key IN (SELECT subject_key FROM grp)
),
everyone AS (
  SELECT subject_key FROM touched
  UNION SELECT subject_key FROM grp
  UNION SELECT member_key FROM housing
),
enrolled AS (
  SELECT e.enrolment_key, e.programme_identifier, e.beneficiary_programme_id,
         e.enrolment_status, e.enrolment_date, e.subject_key, s.kind
  FROM enrolments e JOIN subjects s ON s.subject_key = e.subject_key
  WHERE e.subject_key IN (SELECT subject_key FROM everyone) {statuses}
),"""
# On PostgreSQL the registry is hash-partitioned by subject_key (migration 0006). A key array
# (`= ANY(...)`) is handed whole to each of the 16 partitions, which probe their index for every
# key: 16 probes per key. Each key looked up on its own (LATERAL, fenced by OFFSET 0 so that the
# planner cannot turn it into a hash join over whole tables) is pruned at run time to its one
# partition. Only the households of a member (memberships are partitioned by the group) still
# probe every partition: there one key array per partition is faster than a scan per key.
_FIND_POSTGRESQL = """
touched AS MATERIALIZED ({touched}),
grp AS MATERIALIZED (
  SELECT m.subject_key FROM memberships m
  WHERE m.member_key = ANY(ARRAY(SELECT subject_key FROM touched))
  UNION
  SELECT g.subject_key FROM touched t, LATERAL (
    SELECT m.subject_key FROM memberships m WHERE m.subject_key = t.subject_key LIMIT 1) g
),
housing AS MATERIALIZED (
  SELECT g.subject_key, h.member_key FROM grp g, LATERAL (
    SELECT m.member_key FROM memberships m WHERE m.subject_key = g.subject_key OFFSET 0) h
),
everyone AS MATERIALIZED (
  SELECT subject_key FROM touched
  UNION SELECT subject_key FROM grp
  UNION SELECT member_key FROM housing
),
enrolled AS MATERIALIZED (
  SELECT e.enrolment_key, e.programme_identifier, e.beneficiary_programme_id,
         e.enrolment_status, e.enrolment_date, e.subject_key, s.kind
  FROM everyone x, LATERAL (
    SELECT {columns}, e.subject_key FROM enrolments e
    WHERE e.subject_key = x.subject_key {statuses} OFFSET 0) e, LATERAL (
    SELECT s.kind FROM subjects s WHERE s.subject_key = e.subject_key LIMIT 1) s
),"""
_FIND = {"postgresql": _FIND_POSTGRESQL, "sqlite": _FIND_SQLITE}
_TOUCHED_POSTGRESQL = {  # enrolment keys: one array, as few keys as a batch has
    "enrolments": "SELECT DISTINCT e.subject_key FROM enrolments e "
    "WHERE e.enrolment_key = ANY(CAST(:keys AS TEXT[]))",
}
# Filled with module constants only; values (keys, rule pairs) are bound parameters.
_QUERY = """
WITH batch AS ({keys}),
{find}
unit AS (
  SELECT 'person' AS unit, {columns}, subject_key AS identity_key
  FROM enrolled WHERE kind = 'person'
  UNION ALL
  SELECT 'household' AS unit, {columns}, subject_key AS identity_key
  FROM enrolled WHERE kind = 'group'
  UNION ALL
  SELECT 'household' AS unit, {columns_of_e}, m.subject_key AS identity_key
  FROM enrolled e JOIN housing m ON m.member_key = e.subject_key
  WHERE e.kind = 'person'
)
SELECT ua.unit, ua.programme_identifier AS programme_a, ub.programme_identifier AS programme_b,
       {pair_fields}
FROM unit ua JOIN unit ub ON ub.identity_key = ua.identity_key AND ub.unit = ua.unit
 AND ua.programme_identifier{order} < ub.programme_identifier{order}
WHERE ua.unit || '|' || ua.programme_identifier || '|' || ub.programme_identifier IN :excluded
   OR (:exclude_by_default = 1 AND ua.unit = 'person'
       AND ua.programme_identifier || '|' || ub.programme_identifier NOT IN :listed)
"""


def _statement(dialect: str, touched: Touched, open_only: bool) -> sa.TextClause:
    if dialect not in _KEYS:
        raise TypeError(f"the overlap check runs on PostgreSQL or SQLite, not {dialect}")
    touched_keys = _TOUCHED[touched]
    if dialect == "postgresql":
        touched_keys = _TOUCHED_POSTGRESQL.get(touched, touched_keys)
    find = _FIND[dialect].format(
        touched=touched_keys, columns=_COLUMNS, statuses=OPEN_ONLY if open_only else ""
    )
    text = _QUERY.format(
        keys=_KEYS[dialect],
        find=find,
        columns=_COLUMNS,
        columns_of_e=", ".join(f"e.{c.strip()}" for c in _COLUMNS.split(",")),
        pair_fields=PAIR_FIELDS,
        order=' COLLATE "C"' if dialect == "postgresql" else "",  # Python's (code point) order
    )
    keys = sa.bindparam("keys", type_=postgresql.ARRAY(sa.String))
    if dialect == "sqlite":
        keys = sa.bindparam("keys", type_=sa.String)
    return sa.text(text).bindparams(
        keys,
        sa.bindparam("excluded", expanding=True),
        sa.bindparam("listed", expanding=True),
    )


def overlaps_of_touched(
    connection: sa.Connection,
    rules: ProgrammeRules,
    keys: Iterable[str],
    touched: Touched = "subjects",
) -> list[dict[str, Any]]:
    """The overlaps (``OVERLAP_COLUMNS``, dates as ISO text) of the identities that ``keys``
    touch: subject keys, or the enrolment keys a batch wrote; one row per case, by case id."""
    ordered = sorted(set(keys))
    if not ordered:
        return []
    dialect = connection.dialect.name
    excluded = {f"{r.unit}|{r.programmes[0]}|{r.programmes[1]}": r for r in rules.rules}
    excluded = {key: r for key, r in excluded.items() if r.relation == "exclude"}
    listed = [f"{a}|{b}" for a, b in (r.programmes for r in rules.rules)]
    params = {
        "keys": ordered if dialect == "postgresql" else json.dumps(ordered),
        "excluded": sorted(excluded) or ["|"],  # never empty: an empty IN is not portable
        "listed": listed or ["|"],
        "exclude_by_default": int(rules.default == "exclude"),
    }
    statement = _statement(dialect, touched, rules.statuses == "open")
    found: dict[str, dict[str, Any]] = {}
    for row in _rows(connection, statement, params):
        rule = excluded.get(f"{row['unit']}|{row['programme_a']}|{row['programme_b']}")
        overlap = {
            **row,
            "enrolment_date_a": _iso(row["enrolment_date_a"]),
            "enrolment_date_b": _iso(row["enrolment_date_b"]),
            "concurrent": row["status_a"] in OPEN_STATUSES and row["status_b"] in OPEN_STATUSES,
            "reason": rule.reason if rule is not None else "default",
        }
        case_id = case_id_of(
            row["unit"], row["identity_key"], row["enrolment_key_a"], row["enrolment_key_b"]
        )
        found[case_id] = {"case_id": case_id, **overlap}
    return [{c: found[k][c] for c in OVERLAP_COLUMNS} for k in sorted(found)]


def _rows(
    connection: sa.Connection, statement: sa.TextClause, params: dict[str, Any]
) -> list[sa.RowMapping]:
    with without_jit(connection):
        return list(connection.execute(statement, params).mappings())


def _iso(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    return str(value)[:10]
