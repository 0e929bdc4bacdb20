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
from ibr_conformance.results import Outcome
from ibr_conformance.summary import counts, verdict

__all__ = ["ConsoleReporter"]

_STYLE = {
    Outcome.PASS: "green",
    Outcome.FAIL: "bold red",
    Outcome.WARN: "yellow",
    Outcome.SKIP: "dim",
    Outcome.ERROR: "magenta",
}


class ConsoleReporter:
    def __init__(self, console: Console | None = None, *, verbose: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.verbose = verbose

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
            n = counts(event.results)
            ok = verdict(event.results)
            c.print(
                f"{'CONFORMANT' if ok else 'NOT CONFORMANT'}: "
                + " ".join(f"{k}={v}" for k, v in n.items())
                + f" in {event.duration_ms / 1000:.1f}s",
                style="bold green" if ok else "bold red",
            )
