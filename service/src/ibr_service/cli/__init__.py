"""The ``ibr`` command: serve, migrate, manage clients, verify the audit log, run the outbox, demo.

A package rather than one module so that the demo (a scripted SP-MIS) sits in its own file.
"""

from ibr_service.cli import registry as _registry  # noqa: F401 - registers its commands
from ibr_service.cli.commands import app

__all__ = ["app"]
