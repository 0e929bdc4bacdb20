"""A batch's recompute of the coverage rollups: the contributions in its scope, compared.

The scope of touched subjects is every person and household whose contribution may have changed
(``rollups_sql.scope_ctes``). One statement on PostgreSQL (several on SQLite) widens the scope,
computes its new contribution rows, deletes the stored rows that are no longer among them,
inserts those that are new, and adds that difference to the cells: a batch that changes little
writes little.

Writers of the rollups hold ``ROLLUP_LOCK`` (PostgreSQL, until their transaction ends), so two
batches whose scopes share a person or household never recompute it from the same old rows.
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ibr_service.analytics.coverage_sql import band_case
from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.rollups_sql import (
    CHANGED,
    LEVELS,
    ROW,
    apply_changes,
    atoms_parts,
    old_rows,
    scope_ctes,
)
from ibr_service.analytics.sql_source import without_jit

__all__ = ["ROLLUP_LOCK", "lock_rollups", "recompute_contributions", "statement_on_postgresql"]

ROLLUP_LOCK = 734202
"""Beside the audit chain's 734201 (store_sql): one lock, as the batches that keep the rollups
also append to the audit chain, which serialises them already."""

# Every statement here is built from module constants (column and table names) only.
_ON_POSTGRESQL = (
    "{reach}, new AS ({atoms}), old AS ({old}), went AS ("  # noqa: S608
    f"DELETE FROM coverage_contributions WHERE ({ROW}) IN ({{went}}) RETURNING {ROW}"
    "), came AS ("
    f"INSERT INTO coverage_contributions ({ROW}) {{came}} RETURNING {ROW}"
    ") {apply}"
)
_WENT_AND_CAME = (f"SELECT {ROW} FROM went", f"SELECT {ROW} FROM came")  # noqa: S608
_SCRATCH = (
    "CREATE TEMP TABLE IF NOT EXISTS {name} (unit VARCHAR(10), owner_key VARCHAR(300), "
    "programme VARCHAR(200), area_level SMALLINT, area VARCHAR(100), sex VARCHAR(20), "
    "age_band VARCHAR(10))"
)


def lock_rollups(connection: Connection) -> None:
    """Wait for any other writer of the rollups to end its transaction (PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": ROLLUP_LOCK})


def recompute_contributions(connection: Connection, subjects: set[str], on: dt.date) -> None:
    """Bring the contributions of ``subjects``' scope, and the cells, up to date as of ``on``."""
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise AnalyticsError(f"coverage rollups need SQLite or PostgreSQL, not {dialect}")
    if dialect == "sqlite":
        band, params = band_case(on)
        reach, atoms = atoms_parts(LEVELS, band, dialect)
        _on_sqlite(connection, reach, atoms, {**params, "subjects": json.dumps(sorted(subjects))})
        return
    statement, params = statement_on_postgresql(on)
    with without_jit(connection):  # compiling it took 3.8 s, running it milliseconds
        connection.execute(sa.text(statement), {**params, "subjects": sorted(subjects)})


def statement_on_postgresql(on: dt.date) -> tuple[str, dict[str, str]]:
    """The one statement of a batch's recompute on PostgreSQL (its subjects bound as
    ``:subjects``, a text array), and its other parameters."""
    band, params = band_case(on)
    reach, atoms = atoms_parts(LEVELS, band, "postgresql")
    statement = _ON_POSTGRESQL.format(
        reach=reach,
        atoms=atoms,
        old=old_rows("postgresql"),
        went=CHANGED.format(row=ROW, a="old", b="new"),
        came=CHANGED.format(row=ROW, a="new", b="old"),
        apply=apply_changes(*_WENT_AND_CAME),
    )
    return statement, params


def _on_sqlite(connection: Connection, reach: str, atoms: str, params: dict[str, str]) -> None:
    run = connection.exec_driver_sql
    for name in ("coverage_new", "coverage_old"):
        run(_SCRATCH.format(name=name))
        run(f"DELETE FROM {name}")  # noqa: S608
    connection.execute(sa.text(f"INSERT INTO coverage_new ({ROW}) {reach}{atoms}"), params)
    old = f"INSERT INTO coverage_old ({ROW}) WITH {scope_ctes('sqlite')} {old_rows('sqlite')}"
    connection.execute(sa.text(old), params)
    went = CHANGED.format(row=ROW, a="coverage_old", b="coverage_new")
    came = CHANGED.format(row=ROW, a="coverage_new", b="coverage_old")
    run(apply_changes(went, came))
    run(f"DELETE FROM coverage_contributions WHERE ({ROW}) IN ({went})")  # noqa: S608
    run(f"INSERT INTO coverage_contributions ({ROW}) {came}")
    for name in ("coverage_new", "coverage_old"):
        run(f"DELETE FROM {name}")  # noqa: S608
