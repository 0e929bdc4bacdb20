"""Live progress on the terminal (rich)."""

from __future__ import annotations

from rich.console import Console

from ibr_conformance.events import (
    CheckFinished,
    Event,
    PhaseSkipped,
    PhaseStarted,
    RunFinished,
    RunStarted,
)
from ibr_conformance.requirements import RequirementCatalogue
from ibr_conformance.results import Outcome
from ibr_conformance.summary import (
    completeness,
    counts,
    headline,
    requirement_counts,
    requirement_outcomes,
    verdict,
)

__all__ = ["ConsoleReporter"]

_STYLE = {
    Outcome.PASS: "green",
    Outcome.FAIL: "bold red",
    Outcome.WARN: "yellow",
    Outcome.SKIP: "dim",
    Outcome.ERROR: "magenta",
}


class ConsoleReporter:
    def __init__(
        self,
        console: Console | None = None,
        *,
        verbose: bool = False,
        catalogue: RequirementCatalogue | None = None,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.verbose = verbose
        self.catalogue = catalogue

    def handle(self, event: Event) -> None:
        c = self.console
        if isinstance(event, RunStarted):
            i = event.info
            c.print(
                f"ibr-conformance {i.suite_version} profile={i.profile} target={i.target} "
                f"seed={i.seed} spec={i.spec_version} ({i.spec_hash[:12]})"
            )
        elif isinstance(event, PhaseStarted):
            c.print(f"[bold]== {event.phase.value}[/]: {event.phase.description}")
        elif isinstance(event, PhaseSkipped):
            c.print(f"[dim]== {event.phase.value}: skipped ({event.reason})[/]")
        elif isinstance(event, CheckFinished):
            r = event.result
            ids = ",".join(r.requirement_ids)
            c.print(
                f"  [{_STYLE[r.outcome]}]{r.outcome.value:5}[/] {r.check} [dim]{ids}[/]",
                highlight=False,
            )
            if r.outcome in (Outcome.FAIL, Outcome.WARN) or self.verbose:
                for f in r.failures:
                    c.print(f"        {'/'.join(f.requirement_ids)}: {f.message}", highlight=False)
            if r.outcome in (Outcome.ERROR, Outcome.SKIP) and r.reason:
                c.print(f"        {r.reason.splitlines()[0]}", style="dim", highlight=False)
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _finished(self, event: RunFinished) -> None:
        checks = " ".join(f"{k}={v}" for k, v in counts(event.results).items())
        rows = (
            requirement_outcomes(event.results, self.catalogue, role=event.info.profile)
            if self.catalogue is not None
            else []
        )
        scope = completeness(rows, event.info.config)
        text = headline(verdict(event.results), scope)
        style = "bold green" if text == "CONFORMANT" else "bold yellow"
        if text.startswith("NOT"):
            style = "bold red"
        self.console.print(text, style=style)
        if rows:
            musts = " ".join(f"{k}={v}" for k, v in requirement_counts(rows).items())
            self.console.print(f"  MUST requirements: {musts}", highlight=False)
        self.console.print(
            f"  checks: {checks} in {event.duration_ms / 1000:.1f}s", highlight=False
        )
        if scope.untested_musts:
            self.console.print(
                f"  untested MUSTs: {', '.join(scope.untested_musts)}", highlight=False
            )
