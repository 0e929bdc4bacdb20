"""A fresh, migrated PostgreSQL database for the service benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from ibr_service.store_sql import scratch, upgrade

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
    with scratch.scratch_database(prefix) as url:
        upgrade(url)
        yield url
