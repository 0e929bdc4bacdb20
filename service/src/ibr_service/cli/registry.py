"""`ibr identity|areas|registry` and `ibr clients scope`: the registry steward's commands.

Each parses its arguments, calls one function of `ibr_service.core.stewardship` (or the client
registry), prints the answer, and turns a wrong argument into one line and exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from ibr_protocol.clock import utc_now
from ibr_service.cli.commands import _settings, _store, app, clients_app, console
from ibr_service.core.errors import NotFoundError, RequestError
from ibr_service.core.records import ReadProgrammes

__all__ = ["areas_app", "identity_app", "registry_app"]

identity_app = typer.Typer(help="Identity cases: list, merge, dismiss; split a source record")
areas_app = typer.Typer(help="Administrative areas (reference data)")
registry_app = typer.Typer(help="Registry follow-ups")
app.add_typer(identity_app, name="identity")
app.add_typer(areas_app, name="areas")
app.add_typer(registry_app, name="registry")

T = TypeVar("T")
ACTOR_HELP = "Who decides (recorded in the audit log)"


@identity_app.command("list")
def identity_list(
    status: Annotated[str, typer.Option(help="open, merged, dismissed or all")] = "open",
) -> None:
    """Identity cases as JSON lines (one per case)."""
    with _store(_settings()).transaction() as tx:
        cases = tx.identity_cases(status=None if status == "all" else status)
    for case in cases:
        print(
            json.dumps(
                {
                    "case_id": case.case_id,
                    "kind": case.kind,
                    "status": case.status,
                    "subjects": list(case.subject_keys),
                    "programme": case.programme_identifier,
                    "sender": case.sender_id,
                    "evidence": case.evidence,
                    "opened_at": case.opened_at.isoformat(),
                }
            )
        )
    if not cases:
        Console(stderr=True).print(f"no {status} identity cases")


@identity_app.command("merge")
def identity_merge(
    case_id: Annotated[str, typer.Argument(help="The case, e.g. ic-...")],
    into: Annotated[str, typer.Option(help="The subject key that survives")],
    actor: Annotated[str, typer.Option(help=ACTOR_HELP)] = "operator",
    note: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """Merge the case's other subjects into one (audited)."""
    from ibr_service.core.stewardship import merge_case

    _run(
        lambda: merge_case(
            _store(_settings()), case_id, into=into, actor=actor, now=utc_now(), note=note
        )
    )
    console.print(f"merged case {case_id} into {into}")


@identity_app.command("dismiss")
def identity_dismiss(
    case_id: Annotated[str, typer.Argument(help="The case, e.g. ic-...")],
    actor: Annotated[str, typer.Option(help=ACTOR_HELP)] = "operator",
    note: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """Keep the case's subjects apart: different people (audited)."""
    from ibr_service.core.stewardship import dismiss_case

    _run(lambda: dismiss_case(_store(_settings()), case_id, actor=actor, now=utc_now(), note=note))
    console.print(f"dismissed case {case_id}")


@identity_app.command("split")
def identity_split(
    subject_key: Annotated[str, typer.Argument(help="The subject holding the source record")],
    source_key: Annotated[str, typer.Argument(help="sender|programme|record id")],
    actor: Annotated[str, typer.Option(help=ACTOR_HELP)] = "operator",
) -> None:
    """Move one source record out of a subject into a new subject (audited)."""
    from ibr_service.core.stewardship import split_source

    new_key = _run(
        lambda: split_source(
            _store(_settings()), subject_key, source_key, actor=actor, now=utc_now()
        )
    )
    console.print(f"split {source_key} into {new_key}")


@areas_app.command("load")
def areas_load(
    path: Annotated[
        Path, typer.Argument(help="CSV: country_code,level,area_code,name,parent_code")
    ],
    actor: Annotated[str, typer.Option(help=ACTOR_HELP)] = "operator",
) -> None:
    """Insert or replace administrative areas from a CSV file."""
    from ibr_service.core.stewardship import load_areas, read_area_csv

    try:
        areas = read_area_csv(path)
    except (OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    count = _run(lambda: load_areas(_store(_settings()), areas, actor=actor, now=utc_now()))
    console.print(f"loaded {count} areas from {path}")


@registry_app.command("deceased-open")
def registry_deceased_open() -> None:
    """Enrolments still open for people reported dead, for the owning SP-MIS to follow up."""
    from ibr_service.core.stewardship import deceased_still_enrolled

    settings = _settings()
    found = deceased_still_enrolled(_store(settings), settings.core_settings())
    for subject_key, enrolment in found:
        print(
            json.dumps(
                {
                    "subject_key": subject_key,
                    "programme": enrolment.programme_identifier,
                    "beneficiary_programme_id": enrolment.beneficiary_programme_id,
                    "enrolment_status": enrolment.enrolment_status,
                    "sender_id": enrolment.sender_id,
                }
            )
        )
    Console(stderr=True).print(f"{len(found)} open enrolment(s) of deceased people")


@clients_app.command("scope")
def clients_scope(
    sender_id: Annotated[str, typer.Argument(help="The client")],
    programmes: Annotated[
        str, typer.Option(help="What it reads: own, all, or a comma-separated list")
    ] = "own",
    area: Annotated[
        list[str] | None, typer.Option(help="Area code it reads (repeatable; none = any area)")
    ] = None,
    purpose: Annotated[
        list[str] | None, typer.Option(help="Purpose code it may declare (repeatable; none = any)")
    ] = None,
) -> None:
    """Set a client's read scope (programmes, areas) and allowed purposes."""
    store = _store(_settings())
    read: ReadProgrammes
    if programmes == "own":
        read = "own"
    elif programmes == "all":
        read = "all"
    else:
        read = frozenset(p.strip() for p in programmes.split(",") if p.strip())
    with store.transaction() as tx:
        client = tx.get_client(sender_id)
        if client is None:
            console.print(f"[red]no client {sender_id!r}; see `ibr clients list`[/red]")
            raise typer.Exit(2)
        tx.put_client(
            replace(
                client,
                read_programmes=read,
                read_areas=frozenset(area) if area else None,
                purposes=frozenset(purpose) if purpose else None,
            )
        )
    console.print(
        f"{sender_id} reads programmes {programmes}, areas {', '.join(area or ['any'])}, "
        f"purposes {', '.join(purpose or ['any'])}"
    )


def _run(call: Callable[[], T]) -> T:
    try:
        return call()
    except (NotFoundError, RequestError) as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
