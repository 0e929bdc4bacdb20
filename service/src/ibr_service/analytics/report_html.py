"""A self-contained HTML report: plotly charts (plotly.js inlined, no network) and the tables.

The coverage report draws coverage by area, the overlap heatmap between programmes, benefit
value over time and the age-sex pyramid (beside the reference population when one is loaded).
Suppressed cells are missing from the charts and shown as ``x`` in the tables. After drawing,
the page writes into ``#render-check`` how many marks each chart drew, for automated checks.
"""

from __future__ import annotations

import html
import json

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from ibr_service.analytics.disclosure import TOTAL
from ibr_service.analytics.reports import Report

__all__ = ["render"]

MAX_TABLE_ROWS = 300
_CHECK = """
<script>
window.addEventListener("load", function () {
  var out = {};
  document.querySelectorAll(".chart .plotly-graph-div").forEach(function (gd) {
    var marks = gd.querySelectorAll(
      "g.point path, path.js-line, g.hm image, g.heatmaplayer image, g.points path"
    ).length;
    var values = (gd.data || []).reduce(function (n, t) {
      var v = [].concat.apply([], t.z || t.x || []);
      return n + v.filter(function (x) { return x !== null && x !== undefined; }).length;
    }, 0);
    out[gd.id] = {marks: marks, values: values};
  });
  document.getElementById("render-check").textContent = JSON.stringify(out);
});
</script>
"""
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.chart { border: 1px solid #ddd; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.8rem; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
#render-check { display: none; }
"""


def _inner(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """The table without its margins (``Total`` rows and columns)."""
    inner = table[table[key].astype(str) != TOTAL]
    return inner.drop(columns=[c for c in inner.columns if str(c) == TOTAL])


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(pd.to_numeric, errors="coerce").astype(float)


def _coverage_by_area(table: pd.DataFrame) -> go.Figure:
    inner = _inner(table, "programme").set_index("programme")
    figure = go.Figure()
    for programme, row in _numbers(inner).iterrows():
        figure.add_bar(name=str(programme), x=[str(c) for c in row.index], y=row.to_list())
    return figure.update_layout(
        title="Active beneficiaries by area and programme", barmode="stack",
        xaxis_title="area", yaxis_title="beneficiaries",
    )  # fmt: skip


def _overlap_heatmap(table: pd.DataFrame) -> go.Figure:
    matrix = _numbers(table.set_index("programme"))
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy().tolist(),
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            colorscale="Blues",
            hovertemplate="%{y} and %{x}: %{z} people<extra></extra>",
        )
    )
    return figure.update_layout(title="People active in both programmes")


def _value_over_time(table: pd.DataFrame) -> go.Figure:
    rows = table[(table["programme"] != TOTAL) & (table["period"] != TOTAL)]
    figure = go.Figure()
    for (programme, currency), line in rows.groupby(["programme", "currency"]):
        line = line.sort_values("period")
        figure.add_scatter(
            name=f"{programme} ({currency})",
            x=line["period"].astype(str).to_list(),
            y=_numbers(line[["benefit_value"]])["benefit_value"].to_list(),
            mode="lines+markers",
        )
    return figure.update_layout(title="Benefit value paid per period", yaxis_title="value")


def _pyramid(age_sex: pd.DataFrame, reference: pd.DataFrame | None) -> go.Figure:
    inner = _numbers(_inner(age_sex, "sex").set_index("sex"))
    bands = [str(b) for b in inner.columns]
    share = inner / inner.sum().sum() * 100 if reference is not None else inner
    figure = go.Figure()
    for sex, sign in (("male", -1), ("female", 1)):
        if sex in share.index:
            values = (share.loc[sex] * sign).to_list()
            figure.add_bar(name=f"{sex} beneficiaries", y=bands, x=values, orientation="h")
    if reference is not None:
        ref = _numbers(reference.set_index("sex")).reindex(columns=bands)
        ref = ref / ref.sum().sum() * 100
        for sex, sign in (("male", -1), ("female", 1)):
            if sex in ref.index:
                figure.add_scatter(
                    name=f"{sex} reference population", y=bands,
                    x=(ref.loc[sex] * sign).to_list(), mode="markers",
                )  # fmt: skip
    unit = "% of each population" if reference is not None else "beneficiaries"
    return figure.update_layout(
        title="Age-sex pyramid of active beneficiaries", barmode="overlay", xaxis_title=unit
    )


def _charts(report: Report) -> list[tuple[str, go.Figure]]:
    tables = report.tables
    charts = []
    if "by_area" in tables:
        charts.append(("coverage-by-area", _coverage_by_area(tables["by_area"])))
    if "overlap_matrix" in tables:
        charts.append(("overlap-heatmap", _overlap_heatmap(tables["overlap_matrix"])))
    if "value_over_time" in tables:
        charts.append(("benefit-value", _value_over_time(tables["value_over_time"])))
    if "age_sex" in tables:
        reference = tables.get("reference_age_sex")
        charts.append(("age-sex-pyramid", _pyramid(tables["age_sex"], reference)))
    return charts


def _table_html(name: str, table: pd.DataFrame) -> str:
    shown = table.head(MAX_TABLE_ROWS).astype(object)
    shown = shown.where(shown.notna(), "x")
    note = "" if len(table) <= MAX_TABLE_ROWS else f" (first {MAX_TABLE_ROWS} of {len(table)})"
    body = shown.to_html(index=False, na_rep="x", border=0)
    return f"<h2>{html.escape(name)}{note}</h2>\n{body}"


def render(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>IBR {html.escape(report.name)} report</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{get_plotlyjs()}</script></head><body>",
        f"<h1>IBR {html.escape(report.name)} report</h1>",
        f"<pre>{html.escape(json.dumps(report.summary, indent=2, default=str))}</pre>",
        "<p>Cells under the disclosure threshold, and the cells hidden to protect them, are "
        "shown as x and left out of the charts.</p>",
    ]
    for chart_id, figure in _charts(report):
        figure.update_layout(height=450, margin={"t": 60})
        div = figure.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id)
        parts.append(f'<div class="chart">{div}</div>')
    parts += [_table_html(name, table) for name, table in report.tables.items()]
    parts += ['<pre id="render-check"></pre>', _CHECK, "</body></html>"]
    return "\n".join(parts)
