"""Frames read from the registry's SQL database (SQLite or PostgreSQL), read-only.

Only the columns the computations use are read (no documents), table by table, in chunks.
``programmes`` narrows enrolments and benefits to a client's read scope in the query itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import COLUMNS, RegistryFrames

__all__ = [
    "frames_for_subjects",
    "frames_from_database",
    "frames_from_engine",
    "read_database",
    "where_in",
    "without_jit",
]

_CHUNK = 200_000
_JIT_OFF = sa.text(
    "SELECT was FROM (SELECT current_setting('jit') AS was OFFSET 0) AS s, "
    "LATERAL set_config('jit', 'off', true)"
)
_JIT_BACK = sa.text("SELECT set_config('jit', :jit, true)")


@contextmanager
def without_jit(connection: Connection) -> Iterator[None]:
    """PostgreSQL's JIT off for the statements inside, put back after them.

    On the partitioned registry each key lookup is estimated at a row per partition and the
    estimates multiply, so a plan's cost looks huge: PostgreSQL would JIT-compile, for seconds,
    a query that takes milliseconds. If a statement fails, the transaction's rollback puts the
    setting back (a statement sent to the failed transaction would hide the error)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    was = connection.execute(_JIT_OFF).scalar_one()
    yield
    connection.execute(_JIT_BACK, {"jit": was})


T = TypeVar("T")


def _columns(engine: Engine, table: str, columns: Iterable[str]) -> sa.Table:
    """``table`` with ``columns``; a database without them is one line (AnalyticsError)."""
    inspector = sa.inspect(engine)
    if not inspector.has_table(table):
        raise AnalyticsError(f"the database has no {table} table: run `ibr db upgrade`")
    present = {c["name"] for c in inspector.get_columns(table)}
    wanted = list(columns)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise AnalyticsError(
            f"the database's {table} table lacks {', '.join(missing)}: run `ibr db upgrade`"
        )
    return sa.Table(table, sa.MetaData(), *(sa.Column(c) for c in wanted))


def _read(
    engine: Engine, table: str, columns: Iterable[str], programmes: set[str] | None
) -> pd.DataFrame:
    meta = _columns(engine, table, columns)
    wanted = list(columns)
    query = sa.select(*meta.columns)
    if programmes is not None and "programme_identifier" in wanted:
        query = query.where(meta.c.programme_identifier.in_(sorted(programmes)))
    with engine.connect() as connection:
        chunks = list(pd.read_sql(query, connection, chunksize=_CHUNK))
    if not chunks:
        return pd.DataFrame(columns=wanted)
    return pd.concat(chunks, ignore_index=True)


def _identifier_checks(engine: Engine, programmes: set[str] | None) -> pd.DataFrame:
    """The source records' identifier checks, one row per record and checked type (only the
    records that sent a checked type: a small JSON object each)."""
    wanted = ("subject_key", "sender_id", "programme_identifier", "identifier_checks")
    meta = _columns(engine, "source_records", wanted)
    query = sa.select(*meta.columns).where(meta.c.identifier_checks.is_not(None))
    if programmes is not None:
        query = query.where(meta.c.programme_identifier.in_(sorted(programmes)))
    with engine.connect() as connection:
        rows = [
            (key, sender, programme, kind, bool(passed))
            for key, sender, programme, checks in connection.execute(query)
            for kind, passed in (json.loads(checks) if isinstance(checks, str) else checks).items()
        ]
    return pd.DataFrame(rows, columns=list(COLUMNS["identifier_checks"]))


def frames_from_engine(engine: Engine, programmes: set[str] | None = None) -> RegistryFrames:
    """The registry tables as frames; ``programmes``: only enrolments, benefits and identifier
    checks of those."""
    tables = {
        name: _read(engine, name, COLUMNS[name], programmes)
        for name in COLUMNS
        if name != "identifier_checks"
    }
    tables["identifier_checks"] = _identifier_checks(engine, programmes)
    enrolled = set(tables["enrolments"]["subject_key"])
    if programmes is not None:  # nothing about subjects outside the read scope
        members = tables["memberships"]
        enrolled |= set(members.loc[members["subject_key"].isin(enrolled), "member_key"])
        for name in ("subjects", "identifiers"):
            tables[name] = tables[name][tables[name]["subject_key"].isin(enrolled)]
        tables["memberships"] = members[members["subject_key"].isin(enrolled)]
    return RegistryFrames(**{name: frame.reset_index(drop=True) for name, frame in tables.items()})


def where_in(source: Engine | Connection, table: str, column: str, keys: set[str]) -> pd.DataFrame:
    """Rows of ``table`` whose ``column`` is one of ``keys``: one array parameter on
    PostgreSQL (``= ANY``: no long IN list to plan), chunks of an IN list on SQLite."""
    meta = sa.Table(table, sa.MetaData(), *(sa.Column(c) for c in COLUMNS[table]))
    ordered = sorted(keys)
    with _connected(source) as connection:
        if connection.dialect.name == "postgresql":
            array = sa.bindparam("keys", ordered, type_=postgresql.ARRAY(sa.String))
            query = sa.select(*meta.columns).where(meta.c[column] == sa.func.any(array))
            return pd.read_sql(query, connection)
        found = [
            pd.read_sql(
                sa.select(*meta.columns).where(meta.c[column].in_(ordered[start : start + 500])),
                connection,
            )
            for start in range(0, len(ordered), 500)  # SQLite caps bound parameters
        ]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=COLUMNS[table])


@contextmanager
def _connected(source: Engine | Connection) -> Iterator[Connection]:
    """A connection of its own from an engine; a given connection (a unit of work) as it is."""
    if isinstance(source, Connection):
        yield source
        return
    with source.connect() as connection:
        yield connection


def frames_for_subjects(source: Engine | Connection, subject_keys: Iterable[str]) -> RegistryFrames:
    """Only what an incremental overlap check of ``subject_keys`` needs: those subjects, their
    households and housemates, and the enrolments of all of them (read by key, not scanned).
    Given a connection, reads inside its transaction (what a batch being ingested wrote)."""
    keys = set(subject_keys)
    as_member = where_in(source, "memberships", "member_key", keys)
    groups = set(as_member["subject_key"]) | keys
    memberships = where_in(source, "memberships", "subject_key", groups)
    everyone = keys | set(memberships["subject_key"]) | set(memberships["member_key"])
    return RegistryFrames(
        subjects=where_in(source, "subjects", "subject_key", everyone),
        identifiers=pd.DataFrame(columns=list(COLUMNS["identifiers"])),
        memberships=memberships,
        enrolments=where_in(source, "enrolments", "subject_key", everyone),
    )


def frames_from_database(url: str, programmes: set[str] | None = None) -> RegistryFrames:
    """Open ``url`` (``IBR_DATABASE_URL``) and read the registry; errors are one line."""
    return read_database(url, lambda engine: frames_from_engine(engine, programmes))


def read_database(url: str, read: Callable[[Engine], T]) -> T:
    """``read`` over a database opened for it; a bad URL or an unreadable database is one
    line (AnalyticsError)."""
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as error:
        raise AnalyticsError(f"cannot open the database: {error}") from None
    try:
        return read(engine)
    except (sa.exc.OperationalError, sa.exc.NoSuchTableError) as error:
        raise AnalyticsError(f"cannot read the database: {getattr(error, 'orig', error)}") from None
    finally:
        engine.dispose()
