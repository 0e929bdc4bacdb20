"""A fresh, migrated PostgreSQL database for the service benchmarks."""

from __future__ import annotations

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
