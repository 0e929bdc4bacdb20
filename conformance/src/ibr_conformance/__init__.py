"""ibr_conformance: the suite vendors run against any IBR or SP-MIS claiming compliance."""

from __future__ import annotations

__version__ = "0.1.0"
