"""The built-in checks; importing this package registers them in `REGISTRY`."""

from __future__ import annotations

from ibr_conformance.checks import (  # noqa: F401
    conventions,
    data,
    encryption,
    envelope,
    fuzzing,
    headers,
    hostile_values,
    precedence,
    registry,
    security,
    signature_profiles,
    spmis,
    spmis_auth,
    spmis_keys,
    spmis_receiver,
    workflows,
)
