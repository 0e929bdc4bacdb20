"""Typer commands of ``ibr``. The database is ``IBR_DATABASE_URL`` (default ./data/ibr.db)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ibr_service.cli.operator_errors import guard_commands, redact_url, require_existing_sqlite
from ibr_service.settings import Settings

app = typer.Typer(help="Integrated Beneficiary Registry (IBR) service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
clients_app = typer.Typer(help="Registered SP-MIS clients.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
outbox_app = typer.Typer(help="Callback delivery.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")

console = Console()

CALLBACK_SECRET_ENV = "IBR_CALLBACK_CLIENT_SECRET"  # noqa: S105 - an env var name


def _settings(**overrides: Any) -> Settings:
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def _store(settings: Settings) -> Any:
    from ibr_service.store_sql import SqlStore

    require_existing_sqlite(settings.database_url)
    return SqlStore.from_url(settings.database_url)


def _build_host(settings: Settings) -> Any:
    """The host of ``settings``; a bad configuration file is one line, not a traceback."""
    from ibr_service.api import build_host

    require_existing_sqlite(settings.database_url)
    try:
        return build_host(settings)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxy addresses whose X-Forwarded-For is trusted (per-address rate limits)"
        ),
    ] = None,
    dci_sandbox: Annotated[
        bool,
        typer.Option(
            "--dci-sandbox",
            help="DCI interop sandbox: demo data only, /ibr/<operation> relaxed (never production)",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes; above 1 the outbox runs once, in its own process",
        ),
    ] = 1,
) -> None:
    """Serve the IBR API (and run the outbox worker in the background)."""
    import uvicorn

    from ibr_service.cli.malloc import return_large_blocks_to_the_os

    return_large_blocks_to_the_os()  # flat memory: client secrets cost 16 MiB scrypt blocks

    from ibr_service.api import create_app

    settings = _settings()
    if dci_sandbox:
        from ibr_service.cli.sandbox import dci_sandbox_settings, serve_dci_sandbox_banner

        settings = dci_sandbox_settings(settings)
        serve_dci_sandbox_banner(console.print)
    if dci_sandbox and workers > 1:
        raise typer.BadParameter("the DCI sandbox runs in one process: drop --workers")
    ibr_host = _build_host(settings)  # also creates the server's keys, before any worker starts
    api = create_app(ibr_host)
    if dci_sandbox:
        from ibr_service.cli.sandbox import dci_sandbox_app

        api = dci_sandbox_app(api)  # type: ignore[assignment]
    console.print(
        f"IBR serving on http://{host}:{port}{settings.base_path} "
        f"(database {_redact(settings.database_url)})"
    )
    proxy: dict[str, Any] = (
        {"forwarded_allow_ips": forwarded_allow_ips} if forwarded_allow_ips else {}
    )
    if workers > 1:
        from ibr_service.cli.workers import serve_workers

        engine = getattr(ibr_host.store, "engine", None)
        if engine is not None:  # the workers open their own connections
            engine.dispose()
        serve_workers(settings, host=host, port=port, workers=workers, uvicorn_options=proxy)
        return
    uvicorn.run(api, host=host, port=port, log_level="info", **proxy)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from ibr_service.cli.sandbox import migrate

    settings = _settings()
    migrate(settings.database_url)
    console.print(f"[green]database is up to date[/green]: {_redact(settings.database_url)}")


@clients_app.command("add")
def clients_add(
    sender_id: Annotated[str, typer.Argument(help="The client's id = header.sender_id")],
    public_key: Annotated[
        list[Path] | None, typer.Option(help="File with the client's public JWK (repeatable)")
    ] = None,
    scope: Annotated[list[str] | None, typer.Option(help="Granted scope (repeatable)")] = None,
    callback_host: Annotated[
        list[str] | None,
        typer.Option(
            help="Allowed callback target (repeatable): host:port, or a base URL "
            "https://host[:port]/path (a bare host is refused: give its port)"
        ),
    ] = None,
    programme: Annotated[
        list[str] | None, typer.Option(help="Programme it may write (repeatable; none = all)")
    ] = None,
    allow_private_callbacks: Annotated[
        bool, typer.Option(help="Allow callbacks to private/loopback addresses")
    ] = False,
    callback_token_url: Annotated[
        str | None,
        typer.Option(help="The SP-MIS token endpoint; callbacks then carry a bearer token"),
    ] = None,
    callback_client_id: Annotated[
        str | None, typer.Option(help="Our client id there (default: the IBR's receiver_id)")
    ] = None,
    callback_client_secret: Annotated[
        str | None,
        typer.Option(envvar=CALLBACK_SECRET_ENV, show_envvar=True, help="Our client secret there"),
    ] = None,
    signature: Annotated[
        str,
        typer.Option(help="Signature policy: required, or optional (a peer that cannot sign)"),
    ] = "required",
    callback_url: Annotated[
        str | None, typer.Option(help="Callback base URL, used when a request has no sender_uri")
    ] = None,
) -> None:
    """Register an SP-MIS; prints its client secret once."""
    from ibr_protocol.clock import utc_now
    from ibr_service.security.client_interop import (
        check_callback_base_url,
        check_signature_policy,
        set_client_interop,
    )
    from ibr_service.security.clients import ALL_SCOPES, register_client

    store = _store(_settings())
    try:
        check_signature_policy(signature)
        if callback_url is not None:
            check_callback_base_url(callback_url)
        client, secret = register_client(
            store,
            sender_id=sender_id,
            now=utc_now(),
            public_keys=[_read_jwk(path) for path in public_key or []],
            scopes=scope or ALL_SCOPES,
            allowed_callback_hosts=callback_host or (),
            allow_private_callbacks=allow_private_callbacks,
            allowed_programmes=programme or None,
            callback_token_url=callback_token_url,
            callback_client_id=callback_client_id,
            callback_client_secret=callback_client_secret if callback_token_url else None,
        )
        if signature != "required" or callback_url is not None:
            client = set_client_interop(
                store, sender_id, signature_policy=signature, callback_base_url=callback_url
            )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"registered [bold]{client.sender_id}[/bold]")
    if client.signature_policy == "optional":
        console.print("[yellow]signature policy optional: unsigned requests are accepted[/yellow]")
    if client.callback_token_url:
        console.print(f"callbacks authenticate at {client.callback_token_url}")
    console.print(
        f"client_secret: [bold yellow]{secret}[/bold yellow]  (shown once; store it safely)"
    )


@clients_app.command("list")
def clients_list() -> None:
    """List registered clients (never their secrets)."""
    store = _store(_settings())
    with store.transaction() as tx:
        clients = tx.list_clients()
    table = Table(
        "sender_id",
        "active",
        "scopes",
        "keys",
        "callback hosts",
        "programmes",
        "callback auth",
        "signature",
        "callback URL",
    )
    for client in clients:
        table.add_row(
            client.sender_id,
            "yes" if client.active else "no",
            " ".join(sorted(client.scopes)),
            " ".join(key.get("kid", "?") for key in client.public_jwks.get("keys", [])),
            " ".join(sorted(client.allowed_callback_hosts))
            + (" (+private)" if client.allow_private_callbacks else ""),
            "all"
            if client.allowed_programmes is None
            else " ".join(sorted(client.allowed_programmes)),
            _callback_auth_summary(client),
            client.signature_policy,
            client.callback_base_url or "-",
        )
    console.print(table)


@clients_app.command("interop")
def clients_interop(
    sender_id: Annotated[str, typer.Argument(help="The client's id = header.sender_id")],
    signature: Annotated[
        str | None, typer.Option(help="Signature policy: required or optional")
    ] = None,
    callback_url: Annotated[
        str | None, typer.Option(help="Callback base URL, used when a request has no sender_uri")
    ] = None,
    no_callback_url: Annotated[bool, typer.Option(help="Remove the callback base URL")] = False,
) -> None:
    """Change a client's signature policy and callback base URL."""
    from ibr_service.security.client_interop import set_client_interop

    try:
        client = set_client_interop(
            _store(_settings()),
            sender_id,
            signature_policy=signature,
            callback_base_url=callback_url,
            clear_callback_base_url=no_callback_url,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"{client.sender_id}: signature {client.signature_policy}, "
        f"callback URL {client.callback_base_url or 'none'}"
    )


@clients_app.command("callback-auth")
def clients_callback_auth(
    sender_id: Annotated[str, typer.Argument(help="The client whose callbacks to authenticate")],
    token_url: Annotated[
        str | None, typer.Option(help="The SP-MIS token endpoint (POST /oauth2/client/token)")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="Our client id there (default: the IBR's receiver_id)")
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(envvar=CALLBACK_SECRET_ENV, show_envvar=True, help="Our client secret there"),
    ] = None,
    clear: Annotated[bool, typer.Option(help="Stop sending a bearer token to this client")] = False,
) -> None:
    """Set where the IBR gets a bearer token for its callbacks to an SP-MIS (IBR-SEC-004)."""
    from ibr_service.security.clients import set_callback_auth

    if clear == (token_url is not None):
        console.print("[red]give --token-url, or --clear[/red]")
        raise typer.Exit(2)
    try:
        client = set_callback_auth(
            _store(_settings()),
            sender_id,
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"[bold]{client.sender_id}[/bold]: callback auth {_callback_auth_summary(client)}"
    )


@clients_app.command("callback-targets")
def clients_callback_targets(
    sender_id: Annotated[str, typer.Argument(help="The client whose callback targets to set")],
    callback_host: Annotated[
        list[str] | None,
        typer.Option(help="Allowed callback target (repeatable): host:port or a base URL"),
    ] = None,
    clear: Annotated[bool, typer.Option(help="Allow no callback target at all")] = False,
) -> None:
    """Replace the client's allowed callback targets (e.g. re-register a bare host with its
    port: a stored bare host allows only port 80 or 443)."""
    from ibr_protocol.clock import utc_now
    from ibr_service.security.clients import set_callback_targets

    if clear == bool(callback_host):
        console.print("[red]give --callback-host HOST:PORT (repeatable), or --clear[/red]")
        raise typer.Exit(2)
    try:
        client = set_callback_targets(
            _store(_settings()), sender_id, callback_host or (), now=utc_now()
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    targets = " ".join(sorted(client.allowed_callback_hosts)) or "none"
    console.print(f"[bold]{client.sender_id}[/bold]: callback targets {targets} (audited)")


@clients_app.command("rotate")
def clients_rotate(
    sender_id: Annotated[str, typer.Argument(help="The client to rotate")],
    add_key: Annotated[list[Path] | None, typer.Option(help="Public JWK file to add")] = None,
    remove_kid: Annotated[list[str] | None, typer.Option(help="kid of a key to retire")] = None,
    keep_secret: Annotated[bool, typer.Option(help="Rotate keys only")] = False,
) -> None:
    """Issue a new client secret (the old one stops working) and/or rotate public keys."""
    from ibr_service.security.clients import rotate_client

    store = _store(_settings())
    try:
        client, secret = rotate_client(
            store,
            sender_id,
            new_secret=not keep_secret,
            add_public_keys=[_read_jwk(path) for path in add_key or []],
            remove_kids=remove_kid or (),
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    kids = ", ".join(key.get("kid", "?") for key in client.public_jwks.get("keys", []))
    console.print(f"rotated [bold]{client.sender_id}[/bold]; keys now: {kids or 'none'}")
    if secret:
        console.print(f"new client_secret: [bold yellow]{secret}[/bold yellow]  (shown once)")


@clients_app.command("disable")
def clients_disable(
    sender_id: Annotated[str, typer.Argument(help="The client to disable")],
) -> None:
    """Refuse the client's tokens and requests at once (reversible with `enable`)."""
    _set_client_state(sender_id, "disable")


@clients_app.command("enable")
def clients_enable(
    sender_id: Annotated[str, typer.Argument(help="The client to enable again")],
) -> None:
    """Accept a disabled client again."""
    _set_client_state(sender_id, "enable")


@clients_app.command("remove")
def clients_remove(
    sender_id: Annotated[str, typer.Argument(help="The client to remove")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Disable the client for good: its secret, keys and callback credentials are erased.

    The record itself stays (marked inactive, with an audit entry), so that the history and
    audit entries naming its sender_id keep their meaning; `enable` then needs `rotate` for a
    new secret and keys.
    """
    if not yes and not typer.confirm(f"remove client {sender_id} (secret and keys erased)?"):
        raise typer.Exit(1)
    _set_client_state(sender_id, "remove")


def _set_client_state(sender_id: str, change: str) -> None:
    from ibr_protocol.clock import utc_now
    from ibr_service.security.clients import set_client_state

    try:
        set_client_state(_store(_settings()), sender_id, change=change, now=utc_now())
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    done = {"disable": "disabled", "enable": "enabled", "remove": "removed"}[change]
    console.print(f"[bold]{sender_id}[/bold] {done} (audited)")


@audit_app.command("head")
def audit_head_command() -> None:
    """Print the audit log's head as SEQ:HASH; copy it off-site to detect a cut tail later."""
    from ibr_service.core.audit import audit_head

    head = audit_head(_store(_settings()))
    if head is None:
        console.print("the audit log is empty")
        raise typer.Exit(1)
    typer.echo(str(head))


@audit_app.command("verify")
def audit_verify_command(
    expect_head: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed earlier by `ibr audit head`; detects a cut tail"),
    ] = None,
) -> None:
    """Check the audit log's hash chain; exit 1 when an entry was altered or removed."""
    from ibr_service.core.audit import audit_verify, parse_head

    try:
        expected = parse_head(expect_head) if expect_head is not None else None
    except ValueError as exc:
        console.print(f"[red]--expect-head: {exc}[/red]")
        raise typer.Exit(2) from None
    result = audit_verify(_store(_settings()), expect_head=expected)
    if result.ok:
        checked = f", head {expected.seq} matches" if expected else ""
        console.print(f"[green]audit log intact[/green]: {result.entries} entries{checked}")
        return
    console.print(f"[red]audit log BROKEN[/red] at seq {result.first_bad_seq}: {result.problem}")
    raise typer.Exit(1)


@outbox_app.command("run")
def outbox_run(
    once: Annotated[bool, typer.Option(help="One pass, then exit")] = False,
) -> None:
    """Deliver callbacks until interrupted (or one pass with --once)."""
    from ibr_service.outbox import OutboxDispatcher

    settings = _settings()
    host = _build_host(settings)
    dispatcher = OutboxDispatcher(
        host.store, host.core, keys=host.keys, settings=settings, clock=host.clock
    )
    if once:
        report = asyncio.run(dispatcher.run_once())
        console.print(
            f"processed {report.processed_transactions} transaction(s); delivered "
            f"{len(report.delivered)}, retrying {len(report.retried)}, dead {len(report.dead)}"
        )
        return

    async def loop() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            running.add_signal_handler(sig, stop.set)
        await dispatcher.run_forever(stop)

    console.print("outbox worker running (Ctrl+C to stop)")
    asyncio.run(loop())


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option(help="Folder for the demo database (default: a temp dir)")
    ] = None,
) -> None:
    """Run the standard processes end to end on a fresh embedded database and show each step."""
    from ibr_service.cli.demo import run_demo

    ok = run_demo(console, folder=keep)
    raise typer.Exit(0 if ok else 1)


def _callback_auth_summary(client: Any) -> str:
    # Never the secret: only where, and as whom.
    if not client.callback_token_url:
        return "none"
    as_whom = client.callback_client_id or "receiver_id"
    return f"{client.callback_token_url} as {as_whom}"


def _read_jwk(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} does not hold a JWK object")
    return data


def _redact(url: str) -> str:
    # Never print a database password.
    return redact_url(url)


# The registry steward's commands (identity, areas, registry, clients scope) live in their own
# module; importing it registers them on `app` and `clients_app` above, before they are guarded.
from ibr_service.cli import registry as _registry  # noqa: E402, F401

guard_commands(app)
