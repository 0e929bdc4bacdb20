"""The one exception of the analytics package: a user-facing, one-line message."""

from __future__ import annotations

__all__ = ["AnalyticsError"]


class AnalyticsError(Exception):
    """Bad input or configuration for a report (a missing column, an unknown programme...)."""
