"""Errors the service core raises.

    IbrCoreError                 base: `.code` (DCI `Error.code`), `.field`, `.reason`
    ├── RequestError             the whole request cannot be processed (-> ERR, nothing written)
    ├── QueryError               a search/enrolled/subscribe query is malformed or not allowed
    ├── NotFoundError            a referenced transaction or subscription does not exist
    │   └── TxnNotFoundError     txn/status of an unknown transaction: answered, with header rjct
    ├── ForbiddenError           the caller may not do this (scope or programme)
    └── StoreError               the store could not apply a write (constraint or data error)

Item-level problems are never raised: they become a per-item `rjct` status with a reason code so
that one bad item never loses the good ones. The host turns an `IbrCoreError` into the spec's ERR.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ForbiddenError",
    "IbrCoreError",
    "NotFoundError",
    "QueryError",
    "RequestError",
    "StoreError",
    "TxnNotFoundError",
]


class IbrCoreError(Exception):
    """Base of every core error; `code` is always a DCI wire `Error.code`."""

    default_code = "err.request.bad"

    def __init__(
        self, message: str, *, field: str | None = None, code: str | None = None, reason: str = ""
    ) -> None:
        self.message = message
        self.field = field
        self.code = code or self.default_code
        self.reason = reason or self.code
        where = f" (field {field})" if field else ""
        super().__init__(f"{self.reason}{where}: {message}")


class RequestError(IbrCoreError):
    """The whole request is unusable; nothing was written."""


class QueryError(IbrCoreError):
    """A query names an attribute outside the whitelist, an unknown operator or a bad value.

    `reason` is the DCI status reason code the item gets (`rjct.search_criteria.invalid`,
    `rjct.filter.invalid`, `rjct.sort.invalid`, `rjct.pagination.invalid`).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str = "rjct.search_criteria.invalid",
    ) -> None:
        super().__init__(message, field=field, reason=reason)


class NotFoundError(IbrCoreError):
    """A transaction, correlation id or subscription code is unknown (to this caller)."""

    default_code = "err.request.not_found"


class TxnNotFoundError(NotFoundError):
    """txn/status names no transaction of the caller (IBR-TXN-003).

    Not an error on the wire: the host answers with a response envelope whose header has
    `status: rjct` and no `status_reason_code` (DCI's header list has none for this), and
    `response` as its message: a TxnStatusResponse whose `txn_status` has one `rjct` item with
    reason `item_reason` (`rjct.reference_id.invalid`, from DCI's item lists).
    """

    item_reason = "rjct.reference_id.invalid"

    def __init__(self, message: str, *, field: str | None, response: dict[str, Any]) -> None:
        super().__init__(message, field=field, reason=self.item_reason)
        self.response = response


class ForbiddenError(IbrCoreError):
    """The caller is authenticated but lacks the scope or programme for this operation."""

    default_code = "err.request.forbidden"


class StoreError(IbrCoreError):
    """The store could not apply a write (a constraint or data error in the backend).

    Stores raise it instead of their driver's errors, so the core can fall back to applying a
    batch item by item and reject only the item at fault.
    """

    default_code = "err.request.bad"
