"""The managers' dashboard: the core's coverage report, with the open cases beside it.

The page is the core's own report (`ibr_service.analytics.reports.coverage_report` rendered by
`report_html.render`: coverage by area, the overlap heatmap between programmes, benefit value
over time, the age-sex pyramid, small cells suppressed), computed on the registry as Odoo's
database holds it, headed by the counts of overlap and duplicate cases by status.
"""

import html

from odoo import http
from odoo.http import request

from ..store import OdooStore


class IbrDashboard(http.Controller):
    @http.route("/ibr_dashboard", type="http", auth="user", methods=["GET"])
    def dashboard(self):
        env = request.env
        if not env.user.has_group("ibr.group_ibr_manager"):
            return request.not_found()
        return request.make_response(
            dashboard_html(env), headers=[("Content-Type", "text/html; charset=utf-8")]
        )


def case_counts(env):
    """Open and decided overlap and duplicate cases (the user's record rules apply)."""
    counts = {}
    for model, label in (("ibr.overlap.case", "overlap"), ("ibr.duplicate.case", "duplicate")):
        groups = env[model]._read_group([], ["status"], ["__count"])
        counts[label] = {status: count for status, count in groups}
    return counts


def dashboard_html(env):
    from ibr_service.analytics.report_html import render  # pandas and plotly: when used
    from ibr_service.analytics.reports import coverage_report
    from ibr_service.analytics.sql_source import frames_from_engine

    store = OdooStore(env)
    with store.connection():
        frames = frames_from_engine(store.engine)
    page = render(coverage_report(frames))
    rows = "".join(
        f"<tr><th>{html.escape(kind)} cases</th>"
        + "".join(
            f"<td>{html.escape(str(status))}: {count}</td>" for status, count in sorted(by.items())
        )
        + "</tr>"
        for kind, by in sorted(case_counts(env).items())
    )
    cases = f'<table id="ibr-case-counts">{rows}</table>'
    return page.replace("<body>", f"<body>{cases}", 1) if "<body>" in page else cases + page
