"""``ibr report ...``: coverage, overlaps, duplicates, transitions and data quality.

Each reads the registry (``IBR_DATABASE_URL``) or, with ``--jsonl FILE``, a file of canonical
Beneficiary records, and writes ``--format json|csv|parquet|html`` to ``--out PATH`` (JSON on
stdout without ``--out``). Bad input is one line on stderr and exit status 2.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ibr_service.settings import Settings

if TYPE_CHECKING:
    from ibr_service.analytics.frames import RegistryFrames
    from ibr_service.analytics.reports import Report
    from ibr_service.core.identity import IdentifierTypes

report_app = typer.Typer(
    help="Coverage, overlaps, duplicates, transitions and data quality.", no_args_is_help=True
)

Jsonl = Annotated[
    Path | None, typer.Option(help="Canonical Beneficiary records (JSONL) instead of the database")
]
Format = Annotated[str, typer.Option("--format", help="json, csv, parquet or html")]
Out = Annotated[Path | None, typer.Option(help="Write here (JSON on stdout without it)")]
AsOf = Annotated[
    str | None, typer.Option(help="Snapshot date YYYY-MM-DD (default today)", show_default=False)
]
K = Annotated[int, typer.Option("--k", help="Suppress cells under k (and their complements)")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"--as-of: {value!r} is not a date (YYYY-MM-DD)")
    return None


def _frames(jsonl: Path | None, identifier_types: IdentifierTypes | None = None) -> RegistryFrames:
    """The registry, or the records of ``jsonl`` (checked with ``identifier_types``)."""
    if jsonl is not None:
        from ibr_service.analytics.from_records import frames_from_jsonl
        from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES

        return frames_from_jsonl(
            jsonl, identifier_types=identifier_types or DEFAULT_IDENTIFIER_TYPES
        )
    from ibr_service.analytics.sql_source import frames_from_database

    return frames_from_database(Settings().database_url)


def _log(jsonl: Path | None) -> Any:
    """The feed log of the database (None for a JSONL file: records carry no answers)."""
    if jsonl is not None:
        return None
    from ibr_service.analytics.feed_log import feed_log_from_database

    return feed_log_from_database(Settings().database_url)


def _run(build: Callable[[], Report], fmt: str, out: Path | None) -> None:
    from ibr_service.analytics.errors import AnalyticsError
    from ibr_service.analytics.exports import write_report

    try:
        text = write_report(build(), fmt, out)
    except AnalyticsError as error:
        _fail(str(error))
        return
    if text is not None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        typer.echo(f"wrote {out}", err=True)


@report_app.command("coverage")
def coverage(
    jsonl: Jsonl = None,
    level: Annotated[int, typer.Option(help="Area level 1 (region) to 4")] = 1,
    period: Annotated[str, typer.Option(help="month, quarter or year")] = "year",
    as_of: AsOf = None,
    k: K = 10,
    reference: Annotated[
        Path | None,
        typer.Option(help="Reference population CSV: area_code,sex,age_band,population"),
    ] = None,
    fmt: Format = "json",
    out: Out = None,
) -> None:
    """Beneficiaries, households and benefit value by programme, area, sex, age and period."""
    from ibr_service.analytics.coverage import load_reference_population
    from ibr_service.analytics.reports import coverage_report

    def build() -> Report:
        population = load_reference_population(reference) if reference else None
        frames = _frames(jsonl)  # first: a database without the registry is one line here
        snapshot, source = None, "ad hoc"
        if jsonl is None:
            from ibr_service.analytics.rollups import coverage_snapshot

            snapshot, source = coverage_snapshot(_sql_store().engine, level, _date(as_of))
        report = coverage_report(
            frames, level=level, period=period, as_of=_date(as_of), k=k,
            reference=population, snapshot=snapshot,
        )  # fmt: skip
        report.summary["snapshot_source"] = source
        return report

    _run(build, fmt, out)


@report_app.command("snapshot")
def snapshot(
    level: Annotated[int, typer.Option(help="Area level 1 (region) to 4")] = 1,
    as_of: AsOf = None,
    k: K = 10,
    fmt: Format = "json",
    out: Out = None,
) -> None:
    """Active beneficiaries and households by programme, area, sex and age band: from the
    coverage rollups when they are fresh (summary.source), else counted ad hoc."""
    from ibr_service.analytics.reports import snapshot_report
    from ibr_service.analytics.rollups import coverage_snapshot

    def build() -> Report:
        day = _date(as_of) or dt.date.today()
        table, source = coverage_snapshot(_sql_store().engine, level, day)
        return snapshot_report(table, source=source, level=level, as_of=day, k=k)

    _run(build, fmt, out)


@report_app.command("rebuild-rollups")
def rebuild_rollups(as_of: AsOf = None) -> None:
    """Compute the coverage rollups from scratch (after a bulk load, or to start keeping them);
    every later batch keeps them up to date. Progress on stderr."""
    from ibr_protocol.clock import utc_now
    from ibr_service.analytics import rollups

    now = utc_now()
    day = _date(as_of) or now.date()
    _rollup_command(
        lambda: rollups.rebuild_rollups(
            _sql_store().engine, day, now, progress=lambda step: typer.echo(step, err=True)
        )
    )


@report_app.command("refresh-rollups")
def refresh_rollups(as_of: AsOf = None) -> None:
    """Move the rollups' age bands to a day (default today; e.g. daily, for days without
    ingest): only the people whose band changed are recomputed."""
    from ibr_protocol.clock import utc_now
    from ibr_service.analytics import rollups

    now = utc_now()
    day = _date(as_of) or now.date()

    def refresh() -> None:
        if not rollups.advance_rollups(_sql_store().engine, day, now):
            _fail("there are no coverage rollups yet: run `ibr report rebuild-rollups`")
        typer.echo(f"coverage rollups as of {day.isoformat()}", err=True)

    _rollup_command(refresh)


def _rollup_command(work: Callable[[], object]) -> None:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ibr_service.analytics.errors import AnalyticsError

    try:
        work()
    except AnalyticsError as error:
        _fail(str(error))
    except (OperationalError, ProgrammingError) as error:
        _fail(f"cannot keep the rollups: {getattr(error, 'orig', error)} (run `ibr db upgrade`)")


@report_app.command("overlaps")
def overlaps(
    jsonl: Jsonl = None,
    rules: Annotated[
        Path | None, typer.Option(help="Programme compatibility YAML (default: shipped rules)")
    ] = None,
    record: Annotated[
        bool, typer.Option(help="Keep the overlaps as cases in the database (new ones listed)")
    ] = False,
    fmt: Format = "json",
    out: Out = None,
) -> None:
    """Enrolments of one identity in programmes that must not combine."""
    from ibr_service.analytics.reports import overlaps_report
    from ibr_service.analytics.rules import load_rules

    if record and jsonl is not None:
        _fail("--record keeps cases in the database: it cannot be used with --jsonl")

    def build() -> Report:
        compatibility = load_rules(rules)
        if jsonl is not None:
            return overlaps_report(_frames(jsonl), compatibility)
        from ibr_protocol.clock import utc_now
        from ibr_service.analytics.cases import record_overlaps
        from ibr_service.analytics.overlaps_sql import detect_overlaps_in_database
        from ibr_service.analytics.reports import overlaps_report_of

        store = _sql_store()
        report = overlaps_report_of(detect_overlaps_in_database(store.engine, compatibility))
        if record:
            new = record_overlaps(store, report.tables["overlaps"], utc_now())
            report.summary["new_cases"] = new
        return report

    _run(build, fmt, out)


@report_app.command("decide")
def decide(
    case_id: Annotated[str, typer.Argument(help="An overlap case id (OV-...)")],
    decision: Annotated[str, typer.Option(help="confirmed, false_positive or exempted")],
    actor: Annotated[str, typer.Option(help="Who decides (written to the audit log)")],
    note: Annotated[str, typer.Option(help="Why (kept on the case, not in the audit log)")] = "",
) -> None:
    """Decide an overlap case; the decision is audited in the hash-chained log."""
    from ibr_protocol.clock import utc_now
    from ibr_service.analytics.cases import decide_case
    from ibr_service.analytics.errors import AnalyticsError

    try:
        case = decide_case(_sql_store(), case_id, decision, actor=actor, now=utc_now(), note=note)
    except AnalyticsError as error:
        _fail(str(error))
        return
    typer.echo(f"{case['case_id']}: {case['status']} by {case['decided_by']}")


def _sql_store() -> Any:
    from sqlalchemy.exc import ArgumentError

    from ibr_service.analytics.errors import AnalyticsError
    from ibr_service.store_sql import SqlStore

    try:
        return SqlStore.from_url(Settings().database_url)
    except (ArgumentError, ImportError) as error:
        raise AnalyticsError(f"cannot open the database: {error}") from None


@report_app.command("duplicates")
def duplicates(
    jsonl: Jsonl = None,
    truth: Annotated[
        Path | None, typer.Option(help="mock_data truth.jsonl: print precision, recall and F1")
    ] = None,
    threshold: Annotated[float, typer.Option(help="Match probability for a probable pair")] = 0.7,
    model: Annotated[
        Path | None,
        typer.Option(help="Score with this trained linkage model (else train on the records)"),
    ] = None,
    save_model: Annotated[
        Path | None, typer.Option(help="Write the linkage model used, for later --model runs")
    ] = None,
    fmt: Format = "json",
    out: Out = None,
) -> None:
    """Exact and probable (splink) duplicates inside a programme."""
    from ibr_service.analytics import linkage
    from ibr_service.analytics.reports import duplicates_report
    from ibr_service.analytics.scoring import load_truth

    if not 0 < threshold < 1:
        _fail(f"--threshold must be between 0 and 1, got {threshold}")
    scores: list[dict[str, Any]] = []

    def build() -> Report:
        cases = load_truth(truth) if truth else None
        frames = _frames(jsonl)
        trained = linkage.load_model(model) if model else None
        if save_model:
            trained = trained or linkage.train(linkage.linkage_input(frames))
            linkage.save_model(trained, save_model)
        report = duplicates_report(frames, truth=cases, threshold=threshold, model=trained)
        scores.extend(report.summary.get("scores", []))
        return report

    _run(build, fmt, out)
    for score in scores:
        typer.echo(
            f"{score['kind']}: precision {score['precision']:.3f} recall {score['recall']:.3f} "
            f"F1 {score['f1']:.3f} ({score['true_positives']}/{score['expected']} found, "
            f"{score['found']} reported)",
            err=True,
        )


@report_app.command("transitions")
def transitions(
    jsonl: Jsonl = None,
    months: Annotated[int, typer.Option(help="Window after an exit to look for an entry")] = 6,
    as_of: AsOf = None,
    k: K = 10,
    fmt: Format = "json",
    out: Out = None,
) -> None:
    """Exits from each programme and where people went within N months (or none)."""
    from ibr_service.analytics.reports import transitions_report

    if months < 1:
        _fail(f"--months must be at least 1, got {months}")
    _run(
        lambda: transitions_report(_frames(jsonl), months=months, as_of=_date(as_of), k=k),
        fmt,
        out,
    )


@report_app.command("quality")
def quality(jsonl: Jsonl = None, as_of: AsOf = None, fmt: Format = "json", out: Out = None) -> None:
    """Completeness, identifier validity (the check digits of IBR_IDENTIFIER_TYPES_FILE) and
    staleness per SP-MIS feed."""
    from ibr_service.analytics.reports import quality_report

    try:
        types = Settings().core_settings().identifier_types
    except ValueError as error:
        _fail(str(error))
        return
    _run(
        lambda: quality_report(
            _frames(jsonl, types), as_of=_date(as_of), log=_log(jsonl), identifier_types=types
        ),
        fmt,
        out,
    )
