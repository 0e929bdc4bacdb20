"""Reports written as JSON, CSV, Parquet or HTML.

JSON holds every table and the summary in one document. CSV and Parquet write the main table at
the path given and each other table beside it (``coverage.csv``, ``coverage.by_area.csv``...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.reports import Report

__all__ = ["FORMATS", "report_json", "write_report"]

FORMATS = ("json", "csv", "parquet", "html")


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        table.to_json(orient="records", date_format="iso", double_precision=6)
    )
    return rows


def report_json(report: Report) -> dict[str, Any]:
    return {
        "report": report.name,
        "summary": report.summary,
        "tables": {name: _records(table) for name, table in report.tables.items()},
    }


def _for_files(table: pd.DataFrame) -> pd.DataFrame:
    """Columns as strings, objects as text: mixed cells ("Total" beside codes) stay readable."""
    out = table.copy()
    out.columns = [str(c) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: None if v is None else str(v))
    return out


def _paths(report: Report, out: Path, suffix: str) -> dict[str, Path]:
    main = next(iter(report.tables))
    stem = out.name[: -len(suffix)] if out.name.endswith(suffix) else out.name
    return {
        name: out if name == main else out.with_name(f"{stem}.{name}{suffix}")
        for name in report.tables
    }


def write_report(report: Report, fmt: str, out: Path | None) -> str | None:
    """Write ``report`` to ``out``; without ``out``, return JSON (or the main table's CSV)."""
    if fmt not in FORMATS:
        raise AnalyticsError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if out is None:
        if fmt == "json":
            return json.dumps(report_json(report), indent=2, ensure_ascii=False)
        if fmt == "csv":
            return str(_for_files(next(iter(report.tables.values()))).to_csv(index=False))
        raise AnalyticsError(f"--format {fmt} needs --out PATH")
    if out.parent and not out.parent.is_dir():
        raise AnalyticsError(f"cannot write {out}: folder {out.parent} does not exist")
    if fmt == "json":
        out.write_text(json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "html":
        from ibr_service.analytics.report_html import render

        out.write_text(render(report), encoding="utf-8")
    else:
        for name, path in _paths(report, out, f".{fmt}").items():
            table = _for_files(report.tables[name])
            if fmt == "csv":
                table.to_csv(path, index=False)
            else:
                table.to_parquet(path, index=False)
    return None
