"""The machine-readable report: everything, including evidence, as one JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ibr_conformance.events import Event, RunFinished
from ibr_conformance.requirements import RequirementCatalogue
from ibr_conformance.summary import (
    completeness,
    counts,
    requirement_counts,
    requirement_outcomes,
    verdict,
)

__all__ = ["JsonReporter", "report_document"]

REPORT_FORMAT = "ibr-conformance-report/1"


def report_document(final: RunFinished, catalogue: RequirementCatalogue) -> dict[str, Any]:
    """The report as a dict (shared by the JSON and HTML reporters and the certificate)."""
    info = final.info
    rows = requirement_outcomes(final.results, catalogue, role=info.profile)
    run_scope = completeness(rows, info.config)
    return {
        "format": REPORT_FORMAT,
        "run_id": info.run_id,
        "profile": info.profile,
        "target": info.target,
        "seed": info.seed,
        "suite_version": info.suite_version,
        "spec_version": info.spec_version,
        "spec_hash": info.spec_hash,
        "started_at": info.started_at,
        "finished_at": final.finished_at,
        "duration_ms": round(final.duration_ms, 1),
        "capabilities": list(info.capabilities),
        "config": info.config,
        "conformant": verdict(final.results),
        "completeness": run_scope.to_dict(),
        "summary": counts(final.results),
        "must_summary": requirement_counts(rows),
        "requirements": [r.to_dict() for r in rows],
        "checks": [r.to_dict() for r in final.results],
    }


class JsonReporter:
    """Writes `report.json` when the run finishes."""

    def __init__(self, path: Path, catalogue: RequirementCatalogue) -> None:
        self.path = path
        self.catalogue = catalogue

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            doc = report_document(event, self.catalogue)
            self.path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
