"""The population looks like a country and enrolment follows the programmes' rules."""

from __future__ import annotations

import datetime as dt
import statistics

import ibr_mock_data
from ibr_mock_data import SmallPopulation


def _age(birth_date: str, on: dt.date) -> int:
    born = dt.date.fromisoformat(birth_date)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_household_sizes_and_age_pyramid_are_plausible(country_population: SmallPopulation) -> None:
    """Mean household size near the country's and a young age structure; else demos look fake
    and eligibility-driven counts (pensions, child grants) are off by multiples."""
    profile = country_population.config.profile
    sizes = [len(h.members) for h in country_population.households]
    assert abs(statistics.mean(sizes) - profile.mean_household_size) < 0.6
    as_of = country_population.config.as_of.toordinal()
    ages = [m.age_on(as_of) for h in country_population.households for m in h.members]
    children = sum(a < 18 for a in ages) / len(ages)
    elderly = sum(a >= 65 for a in ages) / len(ages)
    assert 0.25 < children < 0.6
    assert 0.02 < elderly < 0.2
    sexes = {m.sex for h in country_population.households for m in h.members}
    assert sexes == {"male", "female"}


def test_natural_enrolments_follow_eligibility(population: SmallPopulation) -> None:
    """Outside planted cases, pensioners are old enough and child-grant children young enough;
    a broken rule would plant false 'overlaps' nobody recorded."""
    planted = {rid for case in population.truth for rid in case["records"][1:]}
    checked = 0
    for record in population.beneficiaries:
        enrolment = record["programme_identifier"][0]
        if enrolment["beneficiary_programme_id"] in planted or record["assistance_unit"] != "1":
            continue
        code = enrolment["programme"]["programme_identifier"]
        born = record["member"]["demographic_info"]["birth_date"]
        enrolled = dt.date.fromisoformat(enrolment["enrolment_date"])
        if code == "OAP":
            assert _age(born, enrolled) >= 65
            checked += 1
        if code == "CHG":
            assert _age(born, enrolled) <= 4
            checked += 1
        if code == "DSG":
            assert record["member"]["is_disabled"] is True
    assert checked > 50


def test_benefits_stop_when_an_enrolment_is_not_active(population: SmallPopulation) -> None:
    """No delivery is dated after a deceased or graduated status; else payments to the dead
    would be baked into every fixture."""
    for record in population.beneficiaries:
        enrolment = record["programme_identifier"][0]
        if enrolment["enrolment_status"] in ("2", "3"):
            for benefit in enrolment.get("benefits", []):
                assert benefit["benefit_date"] < enrolment["status_change_date"]


def test_public_names_are_exported() -> None:
    """`__all__` lists exactly the names the package exposes (a missing one breaks imports)."""
    for name in ibr_mock_data.__all__:
        assert hasattr(ibr_mock_data, name), name
    assert len(set(ibr_mock_data.__all__)) == len(ibr_mock_data.__all__)
