"""Throwaway PostgreSQL databases for tests and benchmarks on a shared server.

Each is named ``<prefix>_<random>``, so runs from several checkouts on one server never share or
drop each other's, and is dropped when its block ends, however the block ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

__all__ = ["LOCAL_SERVER", "scratch_database"]

LOCAL_SERVER = "postgres@127.0.0.1:5432"


@contextmanager
def scratch_database(prefix: str, server: str = LOCAL_SERVER) -> Iterator[str]:
    """A new, empty database for the block; yields its SQLAlchemy URL (``postgresql+psycopg``).
    Raises `psycopg.OperationalError` when the server cannot be reached."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_url = f"postgresql://{server}/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{server}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
