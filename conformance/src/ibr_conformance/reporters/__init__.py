"""Reporters consume the event stream and write one format each."""

from __future__ import annotations

from ibr_conformance.reporters.console import ConsoleReporter
from ibr_conformance.reporters.html import HtmlReporter
from ibr_conformance.reporters.json_report import JsonReporter, report_document
from ibr_conformance.reporters.junit import JunitReporter

__all__ = ["ConsoleReporter", "HtmlReporter", "JsonReporter", "JunitReporter", "report_document"]
