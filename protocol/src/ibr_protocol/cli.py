"""`ibr-spec`: check the spec, bundle it, show an example, normalise a DCI-variant message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from ibr_protocol.bundle import BUNDLE_PATH, bundle_yaml, write_bundle
from ibr_protocol.errors import IbrProtocolError
from ibr_protocol.models import model_for_schema
from ibr_protocol.normalise import normalise_envelope_report
from ibr_protocol.spec import example_files, load_openapi, spec_dir
from ibr_protocol.validation import load_schema, schema_errors, schema_names

app = typer.Typer(help="The IBR spec as data: check it, show examples, normalise DCI variants.")
console = Console()


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _valid_schema(path: Path) -> str:
    return "api/" + path.name.split(".")[0]


def _model_verdict(schema: str, instance: Any) -> bool | None:
    model = model_for_schema(schema)
    if model is None:
        return None
    try:
        model.model_validate(instance)
    except ValidationError:
        return False
    return True


@app.command()
def check() -> None:
    """Validate every schema, the OpenAPI document and every example; exit 1 on any failure."""
    rows: list[tuple[str, str, bool, str]] = []
    for name in schema_names():
        try:
            Draft202012Validator.check_schema(load_schema(name))
            rows.append(("schema", name, True, ""))
        except SchemaError as exc:
            rows.append(("schema", name, False, exc.message))
    try:
        from openapi_spec_validator import validate as validate_openapi

        validate_openapi(load_openapi(), base_uri=(spec_dir() / "openapi.yaml").as_uri())
        rows.append(("openapi", "openapi.yaml", True, ""))
    except Exception as exc:
        rows.append(("openapi", "openapi.yaml", False, str(exc)[:200]))
    for path in example_files("valid"):
        schema = _valid_schema(path)
        instance = _read(path)
        errors = schema_errors(instance, schema)
        model_ok = _model_verdict(schema, instance)
        ok = not errors and model_ok is not False
        note = errors[0].message if errors else ("model rejects" if model_ok is False else "")
        rows.append(("valid", path.relative_to(spec_dir()).as_posix(), ok, note))
    for path in example_files("invalid"):
        case = _read(path)
        errors = schema_errors(case["instance"], case["schema"])
        expect = case["expect"]
        hit = any(e.matches(expect["path"], expect["keyword"]) for e in errors)
        model_ok = _model_verdict(case["schema"], case["instance"])
        ok = hit and model_ok is not True
        note = "" if ok else f"expected {expect['keyword']} at {expect['path']}"
        rows.append(("invalid", path.relative_to(spec_dir()).as_posix(), ok, note))
    for path in example_files("dci-variants"):
        case = _read(path)
        try:
            result = normalise_envelope_report(case["instance"])
            errors = schema_errors(result.value, case["schema"])
            ok, note = not errors, errors[0].message if errors else ""
        except IbrProtocolError as exc:
            ok, note = False, str(exc)
        rows.append(("dci-variant", path.relative_to(spec_dir()).as_posix(), ok, note))

    table = Table(title=f"ibr-spec check ({spec_dir()})")
    for column in ("kind", "file", "result", "note"):
        table.add_column(column)
    for kind, name, ok, note in rows:
        table.add_row(kind, name, "[green]ok[/]" if ok else "[red]FAIL[/]", note[:120])
    console.print(table)
    failed = sum(1 for row in rows if not row[2])
    console.print(f"{len(rows) - failed} ok, {failed} failed")
    raise typer.Exit(1 if failed else 0)


@app.command()
def bundle(
    check_only: Annotated[
        bool, typer.Option("--check", help="only compare the committed bundle; exit 1 if stale")
    ] = False,
) -> None:
    """Write spec/bundled/openapi.yaml: the spec as one OpenAPI 3.1 file with internal $refs."""
    try:
        if check_only:
            committed = spec_dir() / BUNDLE_PATH
            current = committed.read_text(encoding="utf-8") if committed.is_file() else None
            if current != bundle_yaml():
                console.print(f"[red]{committed} is stale: run `ibr-spec bundle`[/]")
                raise typer.Exit(1)
            console.print(f"{committed} is up to date")
            return
        console.print(f"wrote {write_bundle()}")
    except IbrProtocolError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


@app.command()
def show(example: Annotated[Path, typer.Argument(help="a JSON file (any path)")]) -> None:
    """Pretty-print a JSON example."""
    console.print(Syntax(json.dumps(_read(example), indent=2, ensure_ascii=False), "json"))


@app.command()
def normalise(
    file: Annotated[Path, typer.Argument(help="a DCI-variant envelope (JSON)")],
    reject_unmapped: Annotated[
        bool, typer.Option(help="reject free words in code fields instead of keeping them")
    ] = False,
) -> None:
    """Print the canonical form of a DCI-variant envelope and the rules applied."""
    raw = _read(file)
    if isinstance(raw, dict) and "instance" in raw and "schema" in raw:
        raw = raw["instance"]  # a spec/examples/dci-variants case file
    try:
        result = normalise_envelope_report(
            raw, unmapped_codes="reject" if reject_unmapped else "attribute"
        )
    except IbrProtocolError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(Syntax(json.dumps(result.value, indent=2, ensure_ascii=False), "json"))
    table = Table(title=f"rules applied (schema {result.schema})")
    for column in ("rule", "path", "detail"):
        table.add_column(column)
    for applied in result.applied:
        table.add_row(applied.rule, applied.path, applied.detail)
    console.print(table)
    errors = schema_errors(result.value, result.schema) if result.schema else []
    for error in errors:
        console.print(f"[red]{error.path}: {error.message} [{error.keyword}][/]")
    raise typer.Exit(1 if errors else 0)
