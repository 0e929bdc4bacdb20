"""Name and place pools drawn from faker once per country and seed.

Calling faker per row is far too slow for national scale, so each pool is drawn once (seeded) and
rows then sample from it with `random.Random`. The name pools depend on the installed faker
version; places come from the shipped area hierarchy (`areas.py`) and do not.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

from ibr_mock_data.areas import areas_for
from ibr_mock_data.config import COUNTRIES

__all__ = ["Locality", "Pools", "pools_for"]

_NAMES_PER_POOL = 600


@dataclass(frozen=True, slots=True)
class Locality:
    """One leaf of the administrative hierarchy region > district > locality."""

    region_code: str
    region_name: str
    district_code: str
    district_name: str
    locality_code: str
    locality_name: str
    postal_code: str


@dataclass(frozen=True, slots=True)
class Pools:
    male_names: tuple[str, ...]
    female_names: tuple[str, ...]
    surnames: tuple[str, ...]
    streets: tuple[str, ...]
    localities: tuple[Locality, ...]


def _unique(values: list[str], limit: int) -> tuple[str, ...]:
    seen = dict.fromkeys(v.strip() for v in values if v.strip())
    return tuple(list(seen)[:limit])


def _fakers(locales: tuple[str, ...], seed: int) -> list[Faker]:
    fakers = []
    for i, loc in enumerate(locales):
        f = Faker(loc)
        f.seed_instance(seed * 31 + i)
        fakers.append(f)
    return fakers


def _draw(fakers: list[Faker], method: str, n: int) -> list[str]:
    return [str(getattr(fakers[i % len(fakers)], method)()) for i in range(n)]


def _localities(country: str) -> tuple[Locality, ...]:
    """The leaves of the shipped area hierarchy (`areas.py`), with a postal code per locality."""
    areas = areas_for(country)
    names = {a.area_code: a.name for a in areas}
    parents = {a.area_code: a.parent_code for a in areas}
    out = []
    for a in areas:
        if a.level != 3 or a.parent_code is None:
            continue
        region_code = parents[a.parent_code]
        assert region_code is not None
        out.append(
            Locality(
                region_code=region_code,
                region_name=names[region_code],
                district_code=a.parent_code,
                district_name=names[a.parent_code],
                locality_code=a.area_code,
                locality_name=a.name,
                # Stable per locality, so the same place has the same postal code in every seed.
                postal_code=f"{10_000 + zlib.crc32(a.area_code.encode()) % 90_000}",
            )
        )
    return tuple(out)


@lru_cache(maxsize=8)
def pools_for(country: str, seed: int) -> Pools:
    """The pools of `country` for `seed` (cached per process)."""
    profile = COUNTRIES[country]
    given = _fakers(profile.given_name_locales, seed)
    family = _fakers(profile.surname_locales, seed + 1)
    return Pools(
        male_names=_unique(_draw(given, "first_name_male", 3 * _NAMES_PER_POOL), _NAMES_PER_POOL),
        female_names=_unique(
            _draw(given, "first_name_female", 3 * _NAMES_PER_POOL), _NAMES_PER_POOL
        ),
        surnames=_unique(_draw(family, "last_name", 3 * _NAMES_PER_POOL), _NAMES_PER_POOL),
        streets=_unique(_draw(given[:1], "street_name", 2000), 1000),
        localities=_localities(country),
    )
