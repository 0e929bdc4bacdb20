"""``ibr-client``: the reference SP-MIS on the command line.

Configuration comes from ``--config FILE`` (TOML, or ``IBR_CLIENT_CONFIG``) and ``IBR_CLIENT_*``
environment variables (see :mod:`ibr_client.config`). Every failure prints one line saying what
to fix, never a traceback, and exits with status 1 (2 for usage errors and malformed values, 130
for Ctrl-C during a push).
"""

from __future__ import annotations

import functools
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

import ibr_protocol as proto
from ibr_client.callback_auth import TOKEN_PATH
from ibr_client.cli_input import json_value, search_query
from ibr_client.config import ClientConfig, load_config
from ibr_client.errors import ConfigError, IbrClientError, InputError
from ibr_client.listener import bind_socket, listener_record, running_listener
from ibr_client.push import PushInterrupted, PushReport, push_file, read_records
from ibr_client.server import serve_forever
from ibr_client.sp_mis import ReferenceSpMis
from ibr_client.store import StoredCallback

__all__ = ["app"]

app = typer.Typer(
    name="ibr-client",
    help="The reference SP-MIS: publish to, query and listen to an IBR (DCI IBR v1.0.0).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Manage this SP-MIS's keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

out = Console()
err_console = Console(stderr=True)

_REJECTIONS_SHOWN = 20
P = ParamSpec("P")
R = TypeVar("R")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="IBR_CLIENT_CONFIG",
        help="TOML configuration file.",
        show_default=False,
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]


def _one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the client's errors into one line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InputError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except IbrClientError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except proto.IbrProtocolError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _config(path: Path | None, **overrides: Any) -> ClientConfig:
    return load_config(path, overrides=overrides)


def _print(answer: Any, as_json: bool) -> None:
    data = (
        answer.model_dump(mode="json", by_alias=True, exclude_none=True)
        if hasattr(answer, "model_dump")
        else answer
    )
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        out.print_json(data=data)


@app.command()
@_one_line_errors
def push(
    source: Annotated[Path, typer.Argument(help="A .jsonl or .csv file of beneficiaries.")],
    config: ConfigOption = None,
    batch_size: Annotated[int | None, typer.Option(help="Records per request.")] = None,
    allow_rejections: Annotated[
        bool,
        typer.Option("--allow-rejections", help="Exit 0 even when the IBR rejected some records."),
    ] = False,
) -> None:
    """Publish enrolments and benefits from a file. Only batches the IBR fully accepted are
    marked done, so a rerun (after Ctrl-C, or after fixing the cause of rejections) sends the
    rest. Exits 1 when items were rejected, unless --allow-rejections."""
    settings = _config(config)
    if not source.is_file():
        raise InputError("SOURCE", f"{source} is not a file")
    resume = " ".join(
        ["ibr-client push", shlex.quote(str(source))]
        + ([f"--batch-size {batch_size}"] if batch_size else [])
        + ([f"--config {shlex.quote(str(config))}"] if config else [])
    )
    try:
        report = _push_with_progress(settings, source, batch_size)
    except KeyboardInterrupt as exc:
        progress = ""
        if isinstance(exc, PushInterrupted):
            progress = f"{exc.report.batches_done} of {exc.report.batches_total} batch(es) done; "
        err_console.print(
            f"interrupted: {progress}to resume, run: {resume}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(130) from None
    out.print(
        f"pushed {report.records_sent} record(s) in {report.batches_sent} batch(es); "
        f"{report.batches_skipped} batch(es) already done; "
        f"{report.items_rejected} item(s) rejected"
    )
    if not report.items_rejected:
        return
    for code, count in report.rejections_by_code().items():
        out.print(f"  {count} rejected with {code}", highlight=False)
    for rejection in report.rejections[:_REJECTIONS_SHOWN]:
        out.print(
            f"  rejected {rejection.reference_id}: {rejection.code} {rejection.message}".rstrip(),
            highlight=False,
        )
    if len(report.rejections) > _REJECTIONS_SHOWN:
        out.print(f"  ... and {len(report.rejections) - _REJECTIONS_SHOWN} more", highlight=False)
    if not allow_rejections:
        err_console.print(
            f"error: {report.items_rejected} item(s) rejected; their "
            f"{report.batches_with_rejections} batch(es) are not marked done: fix the cause "
            f"and run `{resume}` again (or pass --allow-rejections)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _push_with_progress(settings: ClientConfig, source: Path, batch_size: int | None) -> PushReport:
    total = len(read_records(source))
    with (
        ReferenceSpMis(settings) as sp_mis,
        Progress(
            TextColumn("[bold]push[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(source.name, total=total)
        return push_file(
            sp_mis.client,
            source,
            batch_size=batch_size,
            on_batch=lambda count, _index: progress.advance(task, count),
        )


@app.command()
@_one_line_errors
def enrolled(
    identifier_type: Annotated[str, typer.Argument(help="Identifier type code, e.g. NID.")],
    identifier_value: Annotated[str, typer.Argument(help="The identifier.")],
    config: ConfigOption = None,
    as_json: JsonOutput = False,
) -> None:
    """Is this person enrolled in any programme? (sync/enrolled)"""
    with ReferenceSpMis(_config(config)) as sp_mis:
        _print(sp_mis.client.enrolled(identifier_type, identifier_value), as_json)


@app.command()
@_one_line_errors
def search(
    identifier_type: Annotated[
        str | None, typer.Argument(help="Identifier type code, e.g. NID.", show_default=False)
    ] = None,
    identifier_value: Annotated[
        str | None, typer.Argument(help="The identifier.", show_default=False)
    ] = None,
    expression: Annotated[
        str | None,
        typer.Option(
            help="An expression query, JSON or a JSON file, e.g. "
            '\'{"programme_identifier": {"eq": "OAP"}}\'.',
            show_default=False,
        ),
    ] = None,
    predicate: Annotated[
        str | None,
        typer.Option(
            help="A predicate query, JSON or a JSON file: one condition "
            "{attribute_name, operator, attribute_value}, a list of them (all must hold), or "
            "DCI predicate items [{seq_num, expression1, condition?, expression2?}].",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    use_async: Annotated[
        bool, typer.Option("--async", help="Use the async search and wait for on-search.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the callback.")] = 60.0,
    page_size: Annotated[
        int | None, typer.Option(help="Records per page (first page).", show_default=False)
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Search the IBR by identifier (TYPE VALUE), --expression or --predicate (sync/search, or
    search + on-search with --async)."""
    query_type, query = search_query(identifier_type, identifier_value, expression, predicate)
    with ReferenceSpMis(_config(config)) as sp_mis:
        if not use_async:
            _print(
                sp_mis.client.search([query], query_type=query_type, page_size=page_size),
                as_json,
            )
            return
        _receive_callbacks(sp_mis)
        handle = sp_mis.client.search_async([query], query_type=query_type, page_size=page_size)
        err_console.print(f"waiting for on-search of transaction {handle.transaction_id}")
        _print(handle.result(timeout=timeout), as_json)


@app.command()
@_one_line_errors
def subscribe(
    event: Annotated[
        str,
        typer.Option(help="reg_event_type: enrollement, enrollement_status_change, deregister."),
    ],
    filter_json: Annotated[
        str,
        typer.Option("--filter", help='The filter as JSON or a JSON file, e.g. {"value": {}}.'),
    ],
    filter_type: Annotated[str, typer.Option(help="idtype-value, expression, predicate.")] = (
        "expression"
    ),
    config: ConfigOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for on-subscribe.")] = 60.0,
    as_json: JsonOutput = False,
) -> None:
    """Subscribe to an event; prints the subscription codes from on-subscribe."""
    filter_ = json_value(filter_json, "--filter")
    with ReferenceSpMis(_config(config)) as sp_mis:
        _receive_callbacks(sp_mis)
        handle = sp_mis.client.subscribe(
            reg_event_type=event, filter_=filter_, filter_type=filter_type
        )
        _print(handle.result(timeout=timeout), as_json)


@app.command()
@_one_line_errors
def unsubscribe(
    codes: Annotated[list[str], typer.Argument(help="Subscription codes to end.")],
    config: ConfigOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for on-unsubscribe.")] = 60.0,
    as_json: JsonOutput = False,
) -> None:
    """End subscriptions; prints the on-unsubscribe answer."""
    with ReferenceSpMis(_config(config)) as sp_mis:
        _receive_callbacks(sp_mis)
        _print(sp_mis.client.unsubscribe(codes).result(timeout=timeout), as_json)


@app.command()
@_one_line_errors
def status(
    transaction_id: Annotated[str, typer.Argument(help="The transaction to ask about.")],
    txn_type: Annotated[str, typer.Option(help="search, subscribe or receipt.")] = "search",
    config: ConfigOption = None,
    as_json: JsonOutput = False,
) -> None:
    """Ask the IBR for the status of an earlier transaction (sync/txn/status)."""
    with ReferenceSpMis(_config(config)) as sp_mis:
        _print(sp_mis.client.txn_status(transaction_id, txn_type=txn_type), as_json)


@app.command()
@_one_line_errors
def listen(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default listen_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default listen_port).")] = None,
    trigger: Annotated[
        bool, typer.Option("--trigger", help="Also serve the trigger API under /trigger.")
    ] = False,
) -> None:
    """Run the callback receiver in the foreground and print what arrives. The asynchronous
    commands of the same configuration use it while it runs."""
    settings = _config(config)
    bind_host = host or settings.listen_host
    bind_port = settings.listen_port if port is None else port
    running = running_listener(settings.state_dir)
    if running is not None:
        raise ConfigError(
            "listen",
            f"an `ibr-client listen` of this state_dir already runs at {running.url} "
            f"(pid {running.pid}); stop it first, or give this one another state_dir",
        )
    sp_mis = ReferenceSpMis(settings, trigger=trigger)
    try:
        sock = bind_socket(bind_host, bind_port)
        base = f"http://{bind_host}:{sock.getsockname()[1]}"
        if settings.callback_url is None:  # the trigger API's async requests need one
            sp_mis.use_callback_url(base)
        sp_mis.on_callback(_print_callback)
        err_console.print(f"listening on {base} (Ctrl-C to stop)")
        err_console.print(
            f"token endpoint for the IBR: {base}{TOKEN_PATH} "
            f"(client_id {settings.effective_ibr_client_id!r}); keys: {base}/.well-known/jwks.json",
            highlight=False,
        )
        with listener_record(settings.state_dir, base):
            serve_forever(sp_mis.receiver_app(), sock)
    finally:
        sp_mis.close()


def _receive_callbacks(sp_mis: ReferenceSpMis) -> None:
    """Use the running `ibr-client listen` of this configuration, else an embedded receiver."""
    listener = sp_mis.receive_callbacks()
    if listener is not None:
        err_console.print(
            f"callbacks arrive at the running ibr-client listen at {listener.url} "
            f"(pid {listener.pid})",
            highlight=False,
        )


def _print_callback(stored: StoredCallback) -> None:
    if stored.action == "notify":
        for event in stored.message.get("notify_event", []):
            data = event.get("data", {})
            out.print(
                f"notify {data.get('reg_event_type')}: {len(data.get('reg_records', []))} "
                f"record(s) (subscription {event.get('subscription_code', '-')})",
                highlight=False,
            )
    else:
        out.print(
            f"{stored.action} for transaction {stored.transaction_id} "
            f"(status {stored.header.get('status')})",
            highlight=False,
        )


@keys_app.command("generate")
@_one_line_errors
def keys_generate(
    kid: Annotated[str, typer.Option(help="Key id, e.g. <sender_id>-2025-01.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the private JWK.")],
) -> None:
    """Create an Ed25519 signing key; prints the public JWK to register at the IBR."""
    if out_file.exists():
        raise typer.BadParameter(f"{out_file} exists; not overwriting a key", param_hint="--out")
    private = proto.generate_signing_key(kid)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(private), encoding="utf-8")
    os.chmod(out_file, 0o600)
    typer.echo(json.dumps(proto.public_jwk(private)))
