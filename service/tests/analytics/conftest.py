"""A mock population with planted truth, as registry frames, shared by the analytics tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ibr_mock_data import small_population
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.analytics.from_records import frames_from_records

RATES = {"cross_programme_overlap": 0.05, "duplicate_in_programme": 0.02, "fuzzy_duplicate": 0.05}


@dataclass(frozen=True)
class Population:
    frames: RegistryFrames
    truth: list[dict[str, Any]]
    records: list[dict[str, Any]]
    households: list[Any]


def population(seed: int, people: int, country: str = "KE") -> Population:
    pop = small_population(seed=seed, people=people, country=country, truth=RATES)
    frames = frames_from_records(pop.beneficiaries)
    return Population(frames, pop.truth, pop.beneficiaries, pop.households)


@pytest.fixture(scope="session")
def mock() -> Population:
    return population(seed=3, people=4000)
