"""`ibr-mock`: generate synthetic beneficiaries with planted truth."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from ibr_mock_data.areas import areas_csv
from ibr_mock_data.cases import KINDS
from ibr_mock_data.config import COUNTRIES, GeneratorConfig, TruthRates
from ibr_mock_data.envelopes import MAX_BATCH_SIZE
from ibr_mock_data.national_id import MAX_SEED, InvalidNationalIdError, validate_national_id
from ibr_mock_data.output import FORMATS, Format, write_population

app = typer.Typer(help="Synthetic social protection beneficiaries with planted truth.")
console = Console(stderr=True)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("mock-out"),
    people: Annotated[int, typer.Option(min=1, help="number of people")] = 10_000,
    seed: Annotated[
        int, typer.Option(min=0, max=MAX_SEED, help="same seed and options, same bytes")
    ] = 0,
    country: Annotated[str, typer.Option(help=f"one of {', '.join(COUNTRIES)}")] = "KE",
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help=f"repeatable: {', '.join(FORMATS)}"),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=MAX_BATCH_SIZE, help="records per envelope")
    ] = 100,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = os.cpu_count() or 1,
    database_url: Annotated[
        str | None, typer.Option(help="for --format postgres, e.g. postgresql://...")
    ] = None,
    as_of: Annotated[str, typer.Option(help="snapshot date YYYY-MM-DD")] = "2025-06-30",
    overlap_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.01,
    duplicate_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.005,
    fuzzy_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.01,
    rate: Annotated[
        list[str] | None,
        typer.Option(help="repeatable KIND=RATE for any truth kind, e.g. stale_update=0.01"),
    ] = None,
    benefit_months: Annotated[int, typer.Option(min=1, max=240)] = 72,
) -> None:
    """Generate a population and write each requested output (default: csv, jsonl)."""
    formats = fmt or ["csv", "jsonl"]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise typer.BadParameter(
            f"{unknown}: valid formats are {', '.join(FORMATS)}", param_hint="--format"
        )
    if country not in COUNTRIES:
        raise typer.BadParameter(
            f"{country!r}: valid countries are {', '.join(COUNTRIES)}", param_hint="--country"
        )
    try:
        snapshot = dt.date.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter(
            f"{as_of!r}: expected a date YYYY-MM-DD", param_hint="--as-of"
        ) from None
    config = GeneratorConfig(
        seed=seed,
        people=people,
        country=country,
        as_of=snapshot,
        benefit_months=benefit_months,
        truth=TruthRates(
            cross_programme_overlap=overlap_rate,
            duplicate_in_programme=duplicate_rate,
            fuzzy_duplicate=fuzzy_rate,
            **_rates(rate or []),
        ),
    )
    selected: list[Format] = [f for f in FORMATS if f in formats]
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("people", total=people)
        summary = write_population(
            config,
            out if any(f != "postgres" for f in selected) else None,
            selected,
            batch_size=batch_size,
            workers=workers,
            database_url=database_url,
            on_block=lambda n: progress.advance(task, n),
        )
    typer.echo(json.dumps(summary.as_dict()))


def _rates(options: list[str]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for option in options:
        kind, _, value = option.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if kind not in KINDS or not 0 <= number <= 1:
            raise typer.BadParameter(
                f"{option!r}: expected KIND=RATE with RATE in 0..1 and KIND one of "
                f"{', '.join(KINDS)}",
                param_hint="--rate",
            )
        rates[kind] = number
    return rates


@app.command()
def areas(
    country: Annotated[str, typer.Option(help=f"one of {', '.join(COUNTRIES)}")] = "KE",
    out: Annotated[Path | None, typer.Option(help="CSV file to write (default: stdout)")] = None,
) -> None:
    """Write the administrative areas of a mock country as CSV (for `ibr areas load`)."""
    if country not in COUNTRIES:
        raise typer.BadParameter(
            f"{country!r}: valid countries are {', '.join(COUNTRIES)}", param_hint="--country"
        )
    text = areas_csv(country)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@app.command("check-id")
def check_id(values: list[str]) -> None:
    """Validate national IDs (format and Verhoeff check digit); exit 1 if any is invalid."""
    failed = False
    for value in values:
        try:
            validate_national_id(value)
            typer.echo(f"{value}: valid")
        except InvalidNationalIdError as error:
            typer.echo(str(error))
            failed = True
    if failed:
        raise typer.Exit(1)
