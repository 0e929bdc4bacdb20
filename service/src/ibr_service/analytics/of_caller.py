"""What a client may count: the registry and the coverage snapshot under its read scope.

The policy every host applies (API, CLI, Odoo): a client reads only the enrolments of the
programmes and areas it may search; the coverage rollups hold everyone's counts, so they answer
only a client that may read everything, and a narrower client's snapshot is counted ad hoc on
its own part of the registry (households included, as the rollups would count them).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy.engine import Engine

from ibr_service.analytics.coverage import enrolment_snapshot
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.analytics.rollups import coverage_snapshot
from ibr_service.analytics.sql_source import frames_from_engine
from ibr_service.core.caller import ReadScope

__all__ = ["frames_of_reader", "snapshot_of_reader"]


def frames_of_reader(engine: Engine, read: ReadScope) -> RegistryFrames:
    """The registry as frames, narrowed to ``read``'s programmes and areas."""
    programmes = set(read.programmes) if read.programmes is not None else None
    return frames_from_engine(engine, programmes).within_areas(read.areas)


def snapshot_of_reader(
    engine: Engine,
    read: ReadScope,
    level: int = 1,
    as_of: dt.date | None = None,
    frames: RegistryFrames | None = None,
) -> tuple[pd.DataFrame, str]:
    """The coverage snapshot ``read`` may see and where it came from: ``rollups`` when fresh
    and the reader is unrestricted, else ``ad hoc`` (counted by the database, or on the
    reader's frames: ``frames`` when already read, as ``frames_of_reader`` gives them)."""
    day = as_of or dt.date.today()
    if read.unrestricted:
        return coverage_snapshot(engine, level, day)
    scoped = frames if frames is not None else frames_of_reader(engine, read)
    return enrolment_snapshot(scoped, level, day), "ad hoc"
