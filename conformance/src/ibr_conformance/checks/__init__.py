"""The built-in checks; importing this package registers them in `REGISTRY`."""

from __future__ import annotations

from ibr_conformance.checks import (  # noqa: F401
    data,
    encryption,
    envelope,
    fuzzing,
    headers,
    security,
    spmis,
    workflows,
)
