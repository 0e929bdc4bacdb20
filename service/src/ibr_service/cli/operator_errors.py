"""Configuration and connection mistakes told to an operator in one or two lines, not a traceback.

``explain(exc)`` returns what to fix (which variable, which file, the command to create the
database) for the mistakes an operator makes on a first install; anything else returns None and
the traceback stays (a bug should be reported with it). ``guard_commands`` wraps every command
of a Typer app so that each command gets the same treatment.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

__all__ = ["OperatorError", "explain", "guard_commands", "redact_url"]

_err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


class OperatorError(Exception):
    """A mistake the operator can fix; its message says how."""


def redact_url(url: str) -> str:
    """``url`` without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


def _database_url() -> str:
    return os.environ.get("IBR_DATABASE_URL", "sqlite:///./data/ibr.db")


def explain(exc: BaseException) -> str | None:
    """What to fix, in one or two lines, or None when ``exc`` is not an operator's mistake."""
    if isinstance(exc, OperatorError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return _settings_error(exc)
    if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
        what = {FileNotFoundError: "does not exist", IsADirectoryError: "is a directory"}
        reason = what.get(type(exc), "cannot be read (permission denied)")
        return f"the file {exc.filename} {reason}; check the path you gave"
    if isinstance(exc, json.JSONDecodeError):
        return f"a file you gave is not JSON (line {exc.lineno}, column {exc.colno})"
    return _database_error(exc)


def _settings_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors()[:2]:
        name = "IBR_" + str(error["loc"][0]).upper() if error.get("loc") else "a setting"
        value = os.environ.get(name)
        shown = f"={value!r}" if value is not None and "SECRET" not in name else ""
        lines.append(f"{name}{shown} is not valid: {error['msg']}; fix or unset it")
    return "\n".join(lines)


def _database_error(exc: BaseException) -> str | None:
    # sqlalchemy is imported here only: the CLI's other commands do not need it loaded.
    from sqlalchemy import exc as sa

    url = redact_url(_database_url())
    if isinstance(exc, sa.ArgumentError | sa.NoSuchModuleError):
        return (
            f"IBR_DATABASE_URL={url!r} is not a database URL this IBR understands; use "
            "postgresql+psycopg://USER@HOST:5432/DB or sqlite:///./data/ibr.db"
        )
    if not isinstance(exc, sa.OperationalError | sa.ProgrammingError | sa.InterfaceError):
        return None
    text = str(getattr(exc, "orig", exc) or exc)
    lowered = text.lower()
    if "does not exist" in lowered and "database" in lowered:
        return _missing_database(url)
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"the database {url} has no IBR schema (or an old one): run `ibr db upgrade`"
    if "connection refused" in lowered or "could not connect" in lowered:
        return (
            f"cannot connect to the database of IBR_DATABASE_URL={url} (connection refused): "
            "is the server running on that host and port?"
        )
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return f"the database refused the user or password of IBR_DATABASE_URL={url}"
    if "unable to open database file" in lowered:
        return (
            f"cannot open the SQLite file of IBR_DATABASE_URL={url}: its folder does not exist "
            "or is not writable"
        )
    if "name or service not known" in lowered or "could not translate host" in lowered:
        return f"the host of IBR_DATABASE_URL={url} does not resolve"
    first_line = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
    return f"database error with IBR_DATABASE_URL={url}: {first_line}"


def _missing_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    parts = make_url(_database_url())
    host = parts.host or "localhost"
    port = f" -p {parts.port}" if parts.port else ""
    user = f" -U {parts.username}" if parts.username else ""
    return (
        f"the database {parts.database!r} does not exist on {host}; create it with:\n"
        f"  createdb -h {host}{port}{user} {parts.database}   then run: ibr db upgrade"
    )


def require_existing_sqlite(url: str) -> None:
    """Refuse a SQLite URL whose file does not exist (connecting would create an empty one)."""
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return
    path = Path(url[len("sqlite:///") :])
    if path.exists():
        return
    if "IBR_DATABASE_URL" not in os.environ:
        raise OperatorError(
            f"IBR_DATABASE_URL is not set and the default database {path} does not exist: "
            "set IBR_DATABASE_URL to the IBR's database (or run `ibr db upgrade` to create one)"
        )
    raise OperatorError(
        f"the SQLite database {path} does not exist: check IBR_DATABASE_URL, or run "
        "`ibr db upgrade` to create it"
    )


def _guarded(function: F) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            message = explain(exc)
            if message is None:
                raise
            _err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def guard_commands(app: typer.Typer) -> None:
    """Wrap every command of ``app`` and of its sub-apps with ``explain``."""
    for command in app.registered_commands:
        if command.callback is not None:
            command.callback = _guarded(command.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_commands(group.typer_instance)
