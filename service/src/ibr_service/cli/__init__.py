"""The ``ibr`` command: serve, migrate, manage clients, verify the audit log, run the outbox, demo.

A package rather than one module so that the demo (a scripted SP-MIS) sits in its own file.
"""

from ibr_service.cli.commands import app
from ibr_service.cli.reports import report_app

app.add_typer(report_app, name="report")

__all__ = ["app"]
