"""Administrative areas of the mock countries: reference data shipped with the package.

Each country's hierarchy is region (level 1) > district (level 2) > locality (level 3), in
`areas/<country>.csv` with the columns an IBR loads (`AREA_COLUMNS`). Generated records carry
these codes: `address[].region_code` is a level-1 code and `sub_region_code` a level-2 code. The
files were drawn once from faker's place names and are fixed, so every seed and faker version
uses the same areas.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["AREA_COLUMNS", "Area", "areas_csv", "areas_for"]

AREA_COLUMNS = ("country_code", "level", "area_code", "name", "parent_code")


@dataclass(frozen=True, slots=True)
class Area:
    """One administrative area; `parent_code` is None at level 1 (a region)."""

    country_code: str
    level: int
    area_code: str
    name: str
    parent_code: str | None


@cache
def areas_for(country: str) -> tuple[Area, ...]:
    """The areas of `country`, parents before children (level, then code)."""
    folder = resources.files("ibr_mock_data") / "areas"
    path = folder / f"{country}.csv"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".csv") for p in folder.iterdir())
        raise ValueError(f"country {country!r}: areas are shipped for {', '.join(known)}")
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return tuple(
        Area(
            country_code=row["country_code"],
            level=int(row["level"]),
            area_code=row["area_code"],
            name=row["name"],
            parent_code=row["parent_code"] or None,
        )
        for row in reader
    )


def areas_csv(country: str) -> str:
    """The areas of `country` as CSV with the header `AREA_COLUMNS` (`ibr-mock areas`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(AREA_COLUMNS)
    for a in areas_for(country):
        writer.writerow((a.country_code, a.level, a.area_code, a.name, a.parent_code or ""))
    return buffer.getvalue()
