"""The core's SQL store inside Odoo: one connection, one transaction, the core's own code."""

from .odoo_store import CORE_SCHEMA, OdooStore
from .schema import create_core_schema

__all__ = ["CORE_SCHEMA", "OdooStore", "create_core_schema"]
