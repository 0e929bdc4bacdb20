"""The evidence bundle: one zip a certifier archives (reports, evidence, manual items)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from ibr_conformance.manual import NOT_AUTOMATED

__all__ = ["write_bundle"]

_REPORTS = ("report.json", "report.html", "junit.xml", "certificate.jws", "badge.svg")


def write_bundle(out: Path) -> Path:
    """Zip the reports of `out`, one evidence file per check, and the manual-assessment list."""
    doc: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    path = out / "evidence.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in _REPORTS:
            if (out / name).is_file():
                zf.write(out / name, name)
        for check in doc["checks"]:
            zf.writestr(f"evidence/{check['check']}.json", json.dumps(check, indent=2))
        manual = {
            rid: {"classification": m.classification.value, "reason": m.reason}
            for rid, m in NOT_AUTOMATED.items()
        }
        zf.writestr("manual-assessment.json", json.dumps(manual, indent=2))
    return path
