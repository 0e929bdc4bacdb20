"""Frames read from the registry's SQL database (SQLite or PostgreSQL), read-only.

Only the columns the computations use are read (no documents), table by table, in chunks.
``programmes`` narrows enrolments and benefits to a client's read scope in the query itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import COLUMNS, RegistryFrames

__all__ = ["frames_from_database", "frames_from_engine"]

_CHUNK = 200_000


def _read(
    engine: Engine, table: str, columns: Iterable[str], programmes: set[str] | None
) -> pd.DataFrame:
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
    meta = sa.Table(table, sa.MetaData(), *(sa.Column(c) for c in wanted))
    query = sa.select(*meta.columns)
    if programmes is not None and "programme_identifier" in wanted:
        query = query.where(meta.c.programme_identifier.in_(sorted(programmes)))
    with engine.connect() as connection:
        chunks = list(pd.read_sql(query, connection, chunksize=_CHUNK))
    if not chunks:
        return pd.DataFrame(columns=wanted)
    return pd.concat(chunks, ignore_index=True)


def frames_from_engine(engine: Engine, programmes: set[str] | None = None) -> RegistryFrames:
    """The registry tables as frames; ``programmes``: only enrolments and benefits of those."""
    tables = {name: _read(engine, name, COLUMNS[name], programmes) for name in COLUMNS}
    enrolled = set(tables["enrolments"]["subject_key"])
    if programmes is not None:  # nothing about subjects outside the read scope
        members = tables["memberships"]
        enrolled |= set(members.loc[members["subject_key"].isin(enrolled), "member_key"])
        for name in ("subjects", "identifiers"):
            tables[name] = tables[name][tables[name]["subject_key"].isin(enrolled)]
        tables["memberships"] = members[members["subject_key"].isin(enrolled)]
    return RegistryFrames(**{name: frame.reset_index(drop=True) for name, frame in tables.items()})


def frames_from_database(url: str, programmes: set[str] | None = None) -> RegistryFrames:
    """Open ``url`` (``IBR_DATABASE_URL``) and read the registry; errors are one line."""
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as error:
        raise AnalyticsError(f"cannot open the database: {error}") from None
    try:
        return frames_from_engine(engine, programmes)
    except sa.exc.OperationalError as error:
        raise AnalyticsError(f"cannot read the database: {error.orig}") from None
    finally:
        engine.dispose()
