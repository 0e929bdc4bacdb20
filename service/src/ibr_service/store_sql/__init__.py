"""ibr_service.store_sql: the `Store` over SQLAlchemy 2, with alembic migrations.

SQLite (a file; the embedded default) and PostgreSQL (production; COPY bulk path). The schema is
created and upgraded only by `upgrade(url)` (`ibr db upgrade`).
"""

from ibr_service.store_sql import analytics_tables  # noqa: F401  (its tables join metadata)
from ibr_service.store_sql.migrate import upgrade
from ibr_service.store_sql.store import SqlStore, SqlTransaction
from ibr_service.store_sql.tables import metadata

__all__ = ["SqlStore", "SqlTransaction", "metadata", "upgrade"]
