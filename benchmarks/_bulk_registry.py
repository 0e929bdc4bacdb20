"""A large registry for the analytics benchmark, built fast and kept for later runs.

One copy of the mock population is written with COPY (keys suffixed ``#0``); PostgreSQL then
replicates it (``INSERT ... SELECT`` over ``generate_series``, keys suffixed ``#1``, ``#2``,
...) into the store's own migrated, partitioned tables. Their primary keys and indexes are
dropped before the load and recreated under their names after it (building a B-tree once is far
cheaper than maintaining it row by row). A comment on the database records what it holds, so
that a later run with the same sizes can reuse it instead of loading again.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import psycopg
from _pg import ADMIN, fresh_database

from ibr_service.analytics.frames import RegistryFrames
from ibr_service.store_sql import upgrade
from ibr_service.store_sql.keys_after import key_statements_query

NOW = "2025-07-01T00:00:00+00:00"
MARKER = "ibr analytics benchmark: "
# The columns holding a key that differs between copies. ``source_key`` and
# ``beneficiary_programme_id`` end with the enrolment key, so they take the copy's suffix too.
KEYED = {
    "subjects": ("subject_key",),
    "memberships": ("subject_key", "member_key"),
    "enrolments": ("subject_key", "enrolment_key", "beneficiary_programme_id", "source_key"),
}
COPIES_PER_STATEMENT = 20


def url_of(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def reusable(name: str, holds: dict[str, int]) -> bool:
    """Whether database ``name`` exists and holds a complete load of exactly ``holds``."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return row is not None and row[0] == MARKER + json.dumps(holds, sort_keys=True)


def build(name: str, frames: RegistryFrames, copies: int, holds: dict[str, int]) -> str:
    """Drop/create/migrate ``name``, fill it with ``copies`` copies of ``frames``; its URL."""
    url = fresh_database(name)
    with _session(name) as connection:
        keys = _drop_keys_and_indexes(connection)
        _copy_base(connection, frames)
        for first in range(1, copies, COPIES_PER_STATEMENT):
            last = min(first + COPIES_PER_STATEMENT, copies) - 1
            for table in KEYED:
                _replicate(connection, table, first, last)
            _say(f"copies {first}..{last} of {copies - 1} replicated")
        for statement in keys:
            connection.execute(statement)
            _say(statement[:90])
        connection.execute("ANALYZE")
        marker = (MARKER + json.dumps(holds, sort_keys=True)).replace("'", "''")
        connection.execute(f"COMMENT ON DATABASE \"{name}\" IS '{marker}'")
    return url


def reuse(name: str) -> str:
    """The URL of the kept database ``name``, migrated to the code's head (a no-op if it is)."""
    url = url_of(name)
    upgrade(url)
    return url


@contextmanager
def _session(name: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as c:
        c.execute("SET synchronous_commit = off")
        c.execute("SET maintenance_work_mem = '1GB'")
        yield c


def _drop_keys_and_indexes(connection: psycopg.Connection) -> list[str]:
    """Drop the primary keys and indexes of the loaded tables; the statements recreating them."""
    recreate: list[str] = []
    for table in KEYED:
        for drop, create in connection.execute(key_statements_query(table)).fetchall():
            connection.execute(drop)
            recreate.append(create)
    return recreate


def _copy_base(connection: psycopg.Connection, frames: RegistryFrames) -> None:
    """Write copy 0 with COPY, and keep it in temporary tables to replicate from."""
    tag = "#0"
    subjects = frames.subjects.assign(
        subject_key=frames.subjects.subject_key + tag,
        document="{}",
        content_hash="-",
        created_at=NOW,
        updated_at=NOW,
    )
    memberships = frames.memberships.assign(
        subject_key=frames.memberships.subject_key + tag,
        member_key=frames.memberships.member_key + tag,
    )
    e = frames.enrolments
    enrolments = e.assign(
        subject_key=e.subject_key + tag,
        enrolment_key=e.enrolment_key + tag,
        beneficiary_programme_id=e.beneficiary_programme_id + tag,
        source_key=e.sender_id + "|" + e.programme_identifier + "|" + e.enrolment_key + tag,
        content_hash="-",
        updated_at=NOW,
    )
    for table, frame in (
        ("subjects", subjects),
        ("memberships", memberships),
        ("enrolments", enrolments),
    ):
        _copy(connection, table, frame)
        connection.execute(f"CREATE TEMP TABLE base_{table} AS SELECT * FROM {table}")  # noqa: S608
    _say(f"copy 0 written: {len(enrolments)} enrolments, {len(subjects)} subjects")


def _copy(connection: psycopg.Connection, table: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d")
    statement = f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(buffer.getvalue())


def _replicate(connection: psycopg.Connection, table: str, first: int, last: int) -> None:
    """Copies ``first``..``last`` of ``table``: copy 0's rows with the keys' suffix replaced."""
    columns = [
        name
        for (name,) in connection.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (table,),
        ).fetchall()
    ]
    # Copy 0's keys end with "#0": drop those two characters and append "#<copy>".
    values = [f"left({c}, -2) || '#' || g" if c in KEYED[table] else c for c in columns]
    connection.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (our table names only)
        f"SELECT {', '.join(values)} FROM base_{table} "
        "CROSS JOIN generate_series(%s::int, %s::int) g",
        (first, last),
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
