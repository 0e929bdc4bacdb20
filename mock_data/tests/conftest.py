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


# High rates of the registry cases (issue #10), so that each kind appears many times.
REGISTRY_TRUTH = {
    "truth": {
        kind: 0.02
        for kind in (
            "split_identifier_order", "formatted_identifier", "aliased_identifier_type",
            "conflicting_demographics", "death_reported_elsewhere", "area_move", "stale_update",
            "benefit_correction", "benefit_reversal",
        )
    }
}  # fmt: skip


@pytest.fixture(scope="session")
def registry_population() -> SmallPopulation:
    return small_population(seed=9, people=4000, country="KE", **REGISTRY_TRUTH)


@pytest.fixture(scope="session")
def population() -> SmallPopulation:
    return small_population(seed=7, people=4000, country="KE", **RICH_TRUTH)


@pytest.fixture(scope="session", params=["KE", "BR", "ID", "PH"])
def country_population(request: pytest.FixtureRequest) -> SmallPopulation:
    return small_population(seed=3, people=1500, country=request.param, **RICH_TRUTH)
