"""Name and place pools drawn from faker once per country and seed.

Calling faker per row is far too slow for national scale, so each pool is drawn once (seeded) and
rows then sample from it with `random.Random`. The pools depend on the installed faker version.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

from ibr_mock_data.config import COUNTRIES, CountryProfile

__all__ = ["Locality", "Pools", "pools_for"]

_NAMES_PER_POOL = 600
_DISTRICTS_PER_REGION = 6
_LOCALITIES_PER_DISTRICT = 8


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


def _regions(profile: CountryProfile, faker: Faker) -> tuple[str, ...]:
    if profile.regions:
        return profile.regions
    provider_lists = ("estados", "provinces", "states")
    for factory in faker.factories:
        for provider in factory.providers:
            for attr in provider_lists:
                values = getattr(provider, attr, None)
                if values:
                    names = [v[1] if isinstance(v, tuple) else v for v in values]
                    return tuple(names[:20])
    return tuple(f"Region {i + 1}" for i in range(8))


def _localities(profile: CountryProfile, seed: int) -> tuple[Locality, ...]:
    (faker,) = _fakers((profile.place_locale,), seed + 7)
    rng = random.Random(f"places:{profile.code}:{seed}")
    regions = _regions(profile, faker)
    towns = _unique(_draw([faker], "city", 4000), 4000)
    out: list[Locality] = []
    t = 0
    for r, region in enumerate(regions, start=1):
        region_code = f"{profile.code}-{r:02d}"
        for d in range(1, _DISTRICTS_PER_REGION + 1):
            district_name = towns[t % len(towns)]
            t += 1
            district_code = f"{region_code}{d:02d}"
            for loc in range(1, _LOCALITIES_PER_DISTRICT + 1):
                out.append(
                    Locality(
                        region_code=region_code,
                        region_name=region,
                        district_code=district_code,
                        district_name=district_name,
                        locality_code=f"{district_code}{loc:03d}",
                        locality_name=towns[t % len(towns)],
                        postal_code=f"{rng.randrange(10000, 99999)}",
                    )
                )
                t += 1
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
        localities=_localities(profile, seed),
    )
