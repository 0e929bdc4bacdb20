"""A fresh, migrated PostgreSQL database for the service benchmarks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from ibr_service.store_sql import upgrade

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_database(name: str) -> str:
    """Drop/create `name`, migrate it, return its SQLAlchemy URL."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    return url


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh, migrated database `<prefix>_<random>` for one run, dropped at its end: runs
    from several checkouts on one server never share (or drop) each other's."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = fresh_database(name)
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
