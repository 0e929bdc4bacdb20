"""The PostgreSQL layout of the registry tables: hash partitions by `subject_key`.

Migration 0006 creates it (docs/scale-out.md); `tables.py` stays the logical schema, the same on
every backend. The partitions (`<table>_p00` ..) are storage, not tables of their own: schema
comparisons and autogenerate leave them out (`is_partition`).
"""

from __future__ import annotations

import re

__all__ = ["DISTRIBUTION_KEY", "PARTITIONED_TABLES", "PARTITIONS", "is_partition"]

DISTRIBUTION_KEY = "subject_key"
PARTITIONS = 16
PARTITIONED_TABLES = (
    "subjects",
    "source_records",
    "identifiers",
    "memberships",
    "enrolments",
    "enrolment_status_history",
    "benefits",
    "benefit_history",
    "subject_area_history",
)
_PARTITION = re.compile(rf"({'|'.join(PARTITIONED_TABLES)})_p\d\d")


def is_partition(table_name: str) -> bool:
    """Whether `table_name` is one of the hash partitions of a registry table."""
    return _PARTITION.fullmatch(table_name) is not None
