"""`ibr-conformance`: run the suite, check coverage, verify a certificate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ibr_conformance.errors import ConformanceError

app = typer.Typer(
    help="Conformance suite for the DCI SP-MIS <-> IBR standard.", no_args_is_help=True
)

FUZZING_PACKAGES = ("schemathesis", "hypothesis")


@app.callback()
def _require_fuzzing_packages() -> None:
    """The suite's fuzzing engine is an extra: say how to add it instead of a traceback."""
    import importlib.util

    missing = [name for name in FUZZING_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        typer.echo(
            f'error: {", ".join(missing)} not installed; run: pip install "ibr[conformance]"',
            err=True,
        )
        raise typer.Exit(2)


def _catalogue(path: str) -> Any:
    from ibr_conformance.requirements import RequirementCatalogue, default_catalogue_path

    return RequirementCatalogue.from_file(Path(path) if path else default_catalogue_path())


@app.command()
def run(
    profile: Annotated[str | None, typer.Option(help="ibr or sp-mis")] = None,
    base_url: Annotated[str | None, typer.Option(help="Base URL of the system under test")] = None,
    base_path: Annotated[str | None, typer.Option(help="Route prefix, e.g. /dci")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML or TOML settings file")] = None,
    token: Annotated[str | None, typer.Option(help="Fixed bearer token")] = None,
    client_id: Annotated[str | None, typer.Option()] = None,
    client_secret: Annotated[str | None, typer.Option()] = None,
    signing_key: Annotated[str | None, typer.Option(help="Our private Ed25519 JWK file")] = None,
    callback_public_url: Annotated[str | None, typer.Option()] = None,
    timeout: Annotated[float | None, typer.Option()] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    header: Annotated[
        list[str] | None, typer.Option(help="Extra header NAME:VALUE (repeat)")
    ] = None,
    phase: Annotated[list[str] | None, typer.Option(help="Only these phases (repeat)")] = None,
    output_dir: Annotated[str | None, typer.Option(help="Where reports are written")] = None,
    certificate_key: Annotated[
        Path | None, typer.Option(help="Issuer private JWK: sign a certificate when conformant")
    ] = None,
) -> None:
    """Run the suite against a system you did not necessarily deploy; exit 1 when a MUST fails."""
    from ibr_conformance.config import load_config
    from ibr_conformance.reporters import ConsoleReporter, HtmlReporter, JsonReporter, JunitReporter
    from ibr_conformance.runner import run as run_suite

    extra = dict(h.split(":", 1) for h in header or [])
    overrides: dict[str, Any] = {
        "profile": profile,
        "base_url": base_url,
        "base_path": base_path,
        "token": token,
        "client_id": client_id,
        "client_secret": client_secret,
        "signing_key": signing_key,
        "callback_public_url": callback_public_url,
        "timeout": timeout,
        "seed": seed,
        "extra_headers": {k.strip(): v.strip() for k, v in extra.items()} or None,
        "phases": tuple(phase) if phase else None,
        "output_dir": output_dir,
    }
    try:
        cfg = load_config(file=config, overrides=overrides)
        catalogue = _catalogue(cfg.requirements_file)
        out = Path(cfg.output_dir)
        final = run_suite(
            cfg,
            catalogue=catalogue,
            handlers=[
                ConsoleReporter(catalogue=catalogue),
                JsonReporter(out / "report.json", catalogue),
                JunitReporter(out / "junit.xml"),
                HtmlReporter(out / "report.html", catalogue),
            ],
        )
        from ibr_conformance.summary import verdict

        ok = verdict(final.results)
        if ok and certificate_key:
            from ibr_conformance.certificate import issue_certificate

            doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
            issue_certificate(doc, json.loads(certificate_key.read_text()), out)
        from ibr_conformance.bundle import write_bundle

        write_bundle(out)
    except ConformanceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"reports in {out}/ (report.json, report.html, junit.xml, evidence.zip)", err=True)
    raise typer.Exit(0 if ok else 1)


@app.command()
def coverage(
    requirements: Annotated[str, typer.Option(help="requirements.yaml (default: spec's)")] = "",
    profile: Annotated[str, typer.Option(help="ibr or sp-mis")] = "ibr",
) -> None:
    """Fail (exit 1) when a MUST requirement binding the profile has no check."""
    from ibr_conformance.coverage import uncovered_musts
    from ibr_conformance.profiles import Profile

    try:
        missing = uncovered_musts(_catalogue(requirements), Profile(profile))
    except ConformanceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for req in missing:
        typer.echo(f"MUST without a check: {req.id}: {req.text}")
    typer.echo(f"{len(missing)} MUST requirement(s) of {profile} without a check")
    raise typer.Exit(1 if missing else 0)


@app.command("list-checks")
def list_checks() -> None:
    """Every check with its phase, profile and requirement ids."""
    import ibr_conformance.checks  # noqa: F401
    from ibr_conformance.registry import REGISTRY

    for c in REGISTRY:
        typer.echo(f"{c.profile.value:7} {c.phase.value:10} {c.name}  {','.join(c.requirements)}")


@app.command()
def verify(
    certificate: Annotated[Path, typer.Argument(help="certificate.jws")],
    issuer_jwks: Annotated[Path, typer.Option(help="Public JWKS of the issuer")],
) -> None:
    """Verify a conformance certificate; print its claims."""
    from ibr_conformance.certificate import verify_certificate

    try:
        claims = verify_certificate(
            certificate.read_text().strip(), json.loads(issuer_jwks.read_text())
        )
    except ConformanceError as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from exc
    json.dump(claims, sys.stdout, indent=2)
    typer.echo("\nVALID")


if __name__ == "__main__":
    app()
