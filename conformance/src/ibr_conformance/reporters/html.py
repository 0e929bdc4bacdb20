"""The report a person reads: summary, per-requirement table, failing evidence (redacted)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ibr_conformance.events import Event, RunFinished
from ibr_conformance.reporters.json_report import report_document
from ibr_conformance.requirements import RequirementCatalogue

__all__ = ["HtmlReporter", "render_html"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:1200px}
h1{margin-bottom:.2rem} .meta{color:#57606a;font-size:.9rem}
.verdict{display:inline-block;padding:.4rem .9rem;border-radius:4px;color:#fff;font-weight:600}
.ok{background:#1a7f37}.ko{background:#cf222e}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}.warn{color:#9a6700}
.skip,.not-tested{color:#6e7781}.error{color:#8250df;font-weight:600}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:.8rem;max-height:24rem}
details{margin:.4rem 0 1rem 0}
"""


def _pre(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    return f"<pre>{escape(text)}</pre>"


def _evidence(ex: dict[str, Any]) -> str:
    req = f"{ex['method']} {ex['url']}"
    return (
        f"<details><summary>{escape(req)} &rarr; HTTP {escape(str(ex['status']))}"
        f"{' &mdash; ' + escape(ex['note']) if ex.get('note') else ''}</summary>"
        f"<p>Request headers</p>{_pre(ex['request_headers'])}"
        f"<p>Request body</p>{_pre(ex['request_body'])}"
        f"<p>Response headers</p>{_pre(ex['response_headers'])}"
        f"<p>Response body</p>{_pre(ex['response_body'])}</details>"
    )


def render_html(doc: dict[str, Any]) -> str:
    """Render a report document (see `report_document`) as one self-contained page."""
    s = doc["summary"]
    scope = doc.get("completeness") or {"complete": True, "untested_musts": []}
    if not doc["conformant"]:
        verdict = '<span class="verdict ko">NOT CONFORMANT</span>'
    elif scope["complete"]:
        verdict = '<span class="verdict ok">CONFORMANT: every MUST was tested and holds</span>'
    else:
        verdict = (
            '<span class="verdict ko">PARTIAL RUN: no tested MUST failed, but '
            f"{len(scope['untested_musts'])} MUST(s) untested: "
            f"{escape(', '.join(scope['untested_musts']))}</span>"
        )
    meta_rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(doc[k]))}</td></tr>"
        for k in (
            "profile",
            "target",
            "seed",
            "suite_version",
            "spec_version",
            "spec_hash",
            "run_id",
            "started_at",
            "finished_at",
        )
    )
    musts = doc.get("must_summary") or {}
    counts = (
        "MUST requirements (the table below): "
        + " &middot; ".join(f'<span class="{k}">{k}: {v}</span>' for k, v in musts.items())
        + "<br>checks: "
        + " &middot; ".join(f'<span class="{k}">{k}: {v}</span>' for k, v in s.items())
    )
    req_rows = "".join(
        f"<tr><td>{escape(r['id'])}</td><td>{escape(r['level'])}</td>"
        f'<td class="{escape(r["outcome"])}">{escape(r["outcome"])}</td>'
        f"<td>{escape(r['text'])}</td><td>{escape(', '.join(r['checks']))}</td></tr>"
        for r in doc["requirements"]
    )
    check_rows = "".join(
        f"<tr><td>{escape(c['check'])}</td><td>{escape(c['phase'])}</td>"
        f'<td class="{escape(c["outcome"])}">{escape(c["outcome"])}</td>'
        f"<td>{escape(', '.join(c['requirement_ids']))}</td>"
        f"<td>{escape(c['reason'].splitlines()[0] if c['reason'] else '')}</td></tr>"
        for c in doc["checks"]
    )
    failing = []
    for c in doc["checks"]:
        for f in c["failures"]:
            failing.append(
                f'<h3 class="{escape(c["outcome"])}">{escape(", ".join(f["requirement_ids"]))}: '
                f"{escape(f['title'])}</h3><p>check <code>{escape(c['check'])}</code>: "
                f"{escape(f['message'])}</p>" + "".join(_evidence(e) for e in f["evidence"])
            )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>IBR conformance report: {escape(doc['target'])}</title><style>{_CSS}</style>"
        f"</head><body><h1>IBR conformance report</h1>"
        f"<p class='meta'>{escape(doc['profile'])} profile against {escape(doc['target'])}</p>"
        f"<p>{verdict}</p><p>{counts}</p><table>{meta_rows}</table>"
        f"<h2>Requirements</h2><table><tr><th>id</th><th>level</th><th>outcome</th>"
        f"<th>requirement</th><th>checks</th></tr>{req_rows}</table>"
        f"<h2>Failing evidence</h2>{''.join(failing) or '<p>None.</p>'}"
        f"<h2>Checks</h2><table><tr><th>check</th><th>phase</th><th>outcome</th>"
        f"<th>requirements</th><th>note</th></tr>{check_rows}</table>"
        "</body></html>"
    )


class HtmlReporter:
    """Writes `report.html` when the run finishes."""

    def __init__(self, path: Path, catalogue: RequirementCatalogue) -> None:
        self.path = path
        self.catalogue = catalogue

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            html = render_html(report_document(event, self.catalogue))
            self.path.write_text(html, encoding="utf-8")
