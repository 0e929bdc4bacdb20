"""ibr_service.core: the IBR processes, written against the `Store` protocol.

No web framework, ORM or Odoo here (checked by import-linter). See service/README.md "Core API".
"""

from ibr_service.core.audit import AuditVerification, audit_verify
from ibr_service.core.caller import Caller
from ibr_service.core.errors import (
    ForbiddenError,
    IbrCoreError,
    NotFoundError,
    QueryError,
    RequestError,
    StoreError,
    TxnNotFoundError,
)
from ibr_service.core.replay import StoreReplayGuard
from ibr_service.core.service import ASYNC_ACTIONS, IbrCore, utc_now
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import Store, StoreTransaction

__all__ = [
    "ASYNC_ACTIONS",
    "AuditVerification",
    "Caller",
    "CoreSettings",
    "ForbiddenError",
    "IbrCore",
    "IbrCoreError",
    "NotFoundError",
    "QueryError",
    "RequestError",
    "Store",
    "StoreError",
    "StoreReplayGuard",
    "StoreTransaction",
    "TxnNotFoundError",
    "audit_verify",
    "utc_now",
]
