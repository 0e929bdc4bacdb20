"""`subjects.subject_key IN (SELECT subject_key FROM identifiers ...)`, planned well on partitions.

On the hash-partitioned registry (migration 0006) PostgreSQL estimates at least one row per
partition for an identifier lookup (16 for one person) and, under the `LIMIT 1` of the enrolled
check, chose a merge semi-join that walks `subjects` in key order until it meets the subject: half
the table per check. Written `subject_key = ANY(ARRAY(SELECT ...))` the lookup runs first, once,
and each partition of `subjects` is probed by its primary key. Other backends keep `IN`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from ibr_service.store_sql.tables import subjects

__all__ = ["SubjectKeyIn"]


class SubjectKeyIn(ColumnElement[bool]):
    """The subject's key is among those `keys` (a SELECT of one `subject_key` column) returns."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: SQLite must not compare it to 1
    _traverse_internals = [("keys", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, keys: Select[Any]) -> None:
        self.keys = keys


@compiles(SubjectKeyIn)
def _in_subquery(element: SubjectKeyIn, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(subjects.c.subject_key.in_(element.keys), **kw)


@compiles(SubjectKeyIn, "postgresql")
def _any_of_array(element: SubjectKeyIn, compiler: SQLCompiler, **kw: Any) -> str:
    key = compiler.process(subjects.c.subject_key, **kw)
    keys = compiler.process(element.keys.scalar_subquery(), **kw)
    return f"({key} = ANY(ARRAY{keys}))"
