"""Shared fixtures: one small population per country, generated once per session."""

from __future__ import annotations

import pytest

from ibr_mock_data import SmallPopulation, small_population

# High planting rates so that a few thousand people hold every kind of case.
RICH_TRUTH = {
    "truth": {
        "cross_programme_overlap": 0.05,
        "duplicate_in_programme": 0.04,
        "fuzzy_duplicate": 0.08,
    }
}


@pytest.fixture(scope="session")
def population() -> SmallPopulation:
    return small_population(seed=7, people=4000, country="KE", **RICH_TRUTH)


@pytest.fixture(scope="session", params=["KE", "BR", "ID", "PH"])
def country_population(request: pytest.FixtureRequest) -> SmallPopulation:
    return small_population(seed=3, people=1500, country=request.param, **RICH_TRUTH)
