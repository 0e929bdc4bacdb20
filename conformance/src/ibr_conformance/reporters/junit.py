"""JUnit XML for CI: one testsuite per phase, one testcase per check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from ibr_conformance.events import Event, RunFinished
from ibr_conformance.results import CheckResult, Outcome

__all__ = ["JunitReporter", "junit_xml"]


def _case(result: CheckResult) -> ET.Element:
    ids = ", ".join(f"{rid} ({result.levels[rid].value})" for rid in result.requirement_ids)
    case = ET.Element(
        "testcase",
        name=f"{result.check} [{', '.join(result.requirement_ids)}]",
        classname=f"ibr_conformance.{result.phase.value}",
        time=f"{result.duration_ms / 1000:.3f}",
    )
    props = ET.SubElement(case, "properties")
    ET.SubElement(props, "property", name="requirements", value=ids)
    if result.outcome in (Outcome.FAIL, Outcome.WARN):
        tag = "failure"
        if result.outcome is Outcome.WARN:
            # A SHOULD is not a CI failure; it is visible as system-out.
            out = ET.SubElement(case, "system-out")
            out.text = "WARN (SHOULD): " + "; ".join(f.message for f in result.failures)
            return case
        for failure in result.failures:
            el = ET.SubElement(
                case,
                tag,
                message=f"[{', '.join(failure.requirement_ids)}] {failure.title}",
                type="conformance",
            )
            el.text = (
                failure.message
                + "\n"
                + "\n".join(json.dumps(e.to_dict(), default=str)[:4000] for e in failure.evidence)
            )
    elif result.outcome is Outcome.SKIP:
        ET.SubElement(case, "skipped", message=result.reason)
    elif result.outcome is Outcome.ERROR:
        ET.SubElement(case, "error", message=result.reason.splitlines()[0] if result.reason else "")
    return case


def junit_xml(final: RunFinished) -> str:
    by_phase: dict[str, list[CheckResult]] = defaultdict(list)
    for r in final.results:
        by_phase[r.phase.value].append(r)
    root = ET.Element("testsuites", name=f"ibr-conformance {final.info.profile}")
    for phase, results in by_phase.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=phase,
            tests=str(len(results)),
            failures=str(sum(r.outcome is Outcome.FAIL for r in results)),
            errors=str(sum(r.outcome is Outcome.ERROR for r in results)),
            skipped=str(sum(r.outcome is Outcome.SKIP for r in results)),
        )
        props = ET.SubElement(suite, "properties")
        for key in ("seed", "suite_version", "spec_version", "spec_hash", "target"):
            ET.SubElement(props, "property", name=key, value=str(getattr(final.info, key)))
        for r in results:
            suite.append(_case(r))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


class JunitReporter:
    """Writes `junit.xml` when the run finishes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(junit_xml(event), encoding="utf-8")
