"""Coverage rollups: active beneficiaries and households per programme x area (every level) x
sex x age band, kept up to date by every ingested batch and read in milliseconds.

- ``rebuild_rollups`` computes them from scratch (``ibr report rebuild-rollups``).
- ``RollupUpdate`` is a batch check of the core (``IbrCore(batch_checks=...)``): in the batch's
  own transaction it compares the stored contribution of the people and households the batch
  touched with their new one and applies the difference (``rollups_delta``), so the rollups
  commit with the batch. Writers of the rollups take turns (``rollups_delta.ROLLUP_LOCK``).
- Age bands move with time: the rollups are banded as of one day (``coverage_rollup_state``).
  Moving them to a later day (the first batch of a day does it, or ``ibr report
  refresh-rollups``) recomputes only the people whose band changed in between - those with a
  5th, 18th, 35th, 60th, 65th or 80th birthday - and their households.
- ``read_rollups`` answers only when they are fresh: built, as of the day asked, and no
  enrolment written since without them (a write that bypassed the batch checks, e.g. a bulk
  load or a host without them, makes them stale until rebuilt). Otherwise the caller counts ad
  hoc (``coverage_snapshot``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ibr_service.analytics.coverage import AGE_BANDS
from ibr_service.analytics.coverage_sql import band_case, snapshot_in_database, years_before
from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.rollups_delta import lock_rollups, recompute_contributions
from ibr_service.analytics.rollups_sql import CELL, LEVELS, atoms_of_reach, reach_query
from ibr_service.analytics.sql_source import where_in
from ibr_service.core.batch_checks import Conflict
from ibr_service.core.store import StoreTransaction
from ibr_service.store_sql.analytics_tables import coverage_rollup_state, coverage_rollups
from ibr_service.store_sql.keys_after import keys_built_after
from ibr_service.store_sql.store import SqlTransaction
from ibr_service.store_sql.tables import enrolments

__all__ = [
    "RollupUpdate",
    "advance_rollups",
    "coverage_snapshot",
    "read_rollups",
    "rebuild_rollups",
    "rollup_state",
    "update_rollups",
]

Progress = Callable[[str], None]
_REACH_TABLE = "coverage_rebuild_reach"


def rollup_state(source: Engine | Connection) -> dict[str, object] | None:
    """The state row (as_of, built_at, updated_at, enrolments_seen), None before a rebuild."""
    query = sa.select(coverage_rollup_state).where(coverage_rollup_state.c.id == 1)
    if isinstance(source, Connection):  # a unit of work: a failed query would spoil it
        row = source.execute(query).mappings().first()
        return None if row is None else dict(row)
    try:
        with source.connect() as connection:
            row = connection.execute(query).mappings().first()
    except (sa.exc.ProgrammingError, sa.exc.OperationalError):
        return None  # not migrated to 0007: no rollups
    return None if row is None else dict(row)


def _latest_enrolment(connection: Connection) -> datetime | None:
    latest = connection.execute(sa.select(sa.func.max(enrolments.c.updated_at))).scalar()
    return latest if isinstance(latest, datetime) else None


def _write_state(connection: Connection, as_of: dt.date, now: datetime, *, built: bool) -> None:
    seen = _latest_enrolment(connection)
    values: dict[str, object] = {"as_of": as_of, "updated_at": now, "enrolments_seen": seen}
    if built:
        connection.execute(coverage_rollup_state.delete())
        connection.execute(coverage_rollup_state.insert().values(id=1, built_at=now, **values))
        return
    state = rollup_state(connection) or {}
    known = state.get("enrolments_seen")
    if isinstance(known, datetime) and (seen is None or _aware(known) > _aware(seen)):
        values["enrolments_seen"] = known  # a concurrent batch accounted for a later one
    connection.execute(
        coverage_rollup_state.update().where(coverage_rollup_state.c.id == 1).values(**values)
    )


def _aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def rebuild_rollups(
    engine: Engine, as_of: dt.date, now: datetime, progress: Progress | None = None
) -> int:
    """Compute the rollups from scratch, banded as of ``as_of``, in one transaction; the number
    of cells. ``progress`` hears of each step.

    The reach of the active enrolments is computed once into a temporary table and read once
    per area level; on PostgreSQL the contributions' key is built after they are all in."""
    say = progress or (lambda _: None)
    band, params = band_case(as_of)
    with engine.begin() as connection:
        lock_rollups(connection)
        say("clearing the rollups")
        postgresql = connection.dialect.name == "postgresql"
        # Only writers of the rollups touch the contributions, and they wait for the lock.
        clear = "TRUNCATE" if postgresql else "DELETE FROM"
        connection.execute(sa.text(f"{clear} coverage_contributions"))
        connection.execute(sa.text("DELETE FROM coverage_rollups"))
        say("the reach of the active enrolments")
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {_REACH_TABLE}"))
        connection.execute(sa.text(f"CREATE TEMP TABLE {_REACH_TABLE} AS {reach_query()}"))
        with keys_built_after(connection, "coverage_contributions"):
            for level in LEVELS:
                say(f"contributions at area level {level} of {len(LEVELS)}")
                query = atoms_of_reach(_REACH_TABLE, level, band)
                insert = f"INSERT INTO coverage_contributions (unit, owner_key, {CELL}) {query}"
                connection.execute(sa.text(insert), params)
            say("indexing the contributions")
        connection.execute(sa.text(f"DROP TABLE {_REACH_TABLE}"))
        say("summing the cells")
        connection.execute(
            sa.text(
                f"INSERT INTO coverage_rollups ({CELL}, beneficiaries, households) "  # noqa: S608
                f"SELECT {CELL}, SUM(CASE WHEN unit = 'person' THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN unit = 'household' THEN 1 ELSE 0 END) "
                f"FROM coverage_contributions GROUP BY {CELL}"
            )
        )
        if postgresql:  # the batches' plans need its new size
            connection.execute(sa.text("ANALYZE coverage_contributions"))
        _write_state(connection, as_of, now, built=True)
        cells = connection.execute(sa.text("SELECT COUNT(*) FROM coverage_rollups")).scalar()
    say(f"done: {cells} cells as of {as_of.isoformat()}")
    return int(cells or 0)


def _band_changed(connection: Connection, since: dt.date, until: dt.date) -> list[str]:
    """People whose age band on ``until`` differs from the one on ``since``."""
    early, late = sorted((since, until))
    ranges = " OR ".join(
        f"(birth_date > :after_{n} AND birth_date <= :until_{n})" for n in AGE_BANDS[1:]
    )
    params: dict[str, str] = {}
    for n in AGE_BANDS[1:]:
        params[f"after_{n}"] = years_before(early, n).isoformat()
        params[f"until_{n}"] = years_before(late, n).isoformat()
    query = f"SELECT subject_key FROM subjects WHERE kind = 'person' AND ({ranges})"  # noqa: S608
    return list(connection.execute(sa.text(query), params).scalars())


def update_rollups(
    connection: Connection, subject_keys: Iterable[str], now: datetime, as_of: dt.date | None = None
) -> bool:
    """Recompute the contribution of ``subject_keys`` (and of everyone whose band moved, when
    ``as_of`` is later than the rollups' day) inside the caller's transaction. False, and
    nothing done, when there are no rollups to keep."""
    lock_rollups(connection)
    state = rollup_state(connection)
    if state is None:
        return False
    _keep(connection, state, set(subject_keys), now, as_of)
    return True


def _keep(
    connection: Connection,
    state: dict[str, object],
    touched: set[str],
    now: datetime,
    as_of: dt.date | None,
) -> None:
    """``update_rollups`` once the lock is held and the ``state`` read."""
    day = state["as_of"]
    assert isinstance(day, dt.date)
    on = as_of or day
    if on != day:
        touched |= set(_band_changed(connection, day, on))
    if touched:
        recompute_contributions(connection, touched, on)
    _write_state(connection, on, now, built=False)


def advance_rollups(engine: Engine, as_of: dt.date, now: datetime) -> bool:
    """Move the rollups' age bands to ``as_of`` (``ibr report refresh-rollups``, e.g. daily);
    False when there are no rollups."""
    with engine.begin() as connection:
        return update_rollups(connection, (), now, as_of)


class RollupUpdate:
    """Keeps the coverage rollups with every ingested batch (`IbrCore(batch_checks=...)`): never
    a conflict, only the rollups' rows written in the batch's transaction. The first batch of a
    day also moves the age bands to that day."""

    def __call__(
        self, tx: StoreTransaction, enrolment_keys: frozenset[str], now: datetime
    ) -> list[Conflict]:
        if not isinstance(tx, SqlTransaction):
            raise TypeError("the coverage rollups need the SQL store")  # a host wiring mistake
        lock_rollups(tx.connection)  # before reading the state: a rebuild may be committing it
        state = rollup_state(tx.connection)
        if state is None:
            return []  # none built yet: nothing to keep, nothing to read
        touched = where_in(tx.connection, "enrolments", "enrolment_key", set(enrolment_keys))
        _keep(tx.connection, state, set(touched["subject_key"]), now, now.date())
        return []


def read_rollups(
    engine: Engine, level: int, as_of: dt.date, programmes: set[str] | None = None
) -> pd.DataFrame | None:
    """The snapshot from the rollups (as ``snapshot_in_database`` gives it), or None when they
    are absent or not fresh for ``as_of``."""
    if level not in LEVELS:
        raise AnalyticsError(f"area level must be 1 to 4, got {level}")
    state = rollup_state(engine)  # None also where the database has no rollup tables
    if state is None or state["as_of"] != as_of:
        return None
    with engine.connect() as connection:
        seen, latest = state["enrolments_seen"], _latest_enrolment(connection)
        if latest is not None and (not isinstance(seen, datetime) or _aware(latest) > _aware(seen)):
            return None
        r = coverage_rollups.c
        query = sa.select(
            r.programme, r.area, r.sex, r.age_band, r.beneficiaries, r.households
        ).where(r.area_level == level, (r.beneficiaries > 0) | (r.households > 0))
        if programmes is not None:
            query = query.where(r.programme.in_(sorted(programmes)))
        out = pd.DataFrame(connection.execute(query).all(), columns=[
            "programme", "area", "sex", "age_band", "beneficiaries", "households"
        ])  # fmt: skip
    out[["beneficiaries", "households"]] = out[["beneficiaries", "households"]].astype(int)
    keys = ["programme", "area", "sex", "age_band"]
    return out.sort_values(keys, ignore_index=True)


def coverage_snapshot(
    engine: Engine, level: int = 1, as_of: dt.date | None = None
) -> tuple[pd.DataFrame, str]:
    """The snapshot and where it came from: ``rollups`` when fresh, else ``ad hoc`` (SQL)."""
    on = as_of or dt.date.today()
    fast = read_rollups(engine, level, on)
    if fast is not None:
        return fast, "rollups"
    try:
        return snapshot_in_database(engine, level, on), "ad hoc"
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
        reason = getattr(error, "orig", error)
        raise AnalyticsError(f"cannot read the database: {reason} (run `ibr db upgrade`)") from None
