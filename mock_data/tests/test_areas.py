"""Administrative areas ship with the package and hold every code the generated records carry."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ibr_mock_data import AREA_COLUMNS, COUNTRIES, SmallPopulation, areas_csv, areas_for
from ibr_mock_data.cli import app

HEADER = "country_code,level,area_code,name,parent_code"


def _addresses(population: SmallPopulation) -> Iterator[dict[str, Any]]:
    """Every address of every base record and follow-up: members, heads, member lists, groups."""
    records = [*population.beneficiaries, *(u["beneficiary"] for u in population.updates)]
    for record in records:
        if record["assistance_unit"] == "1":
            yield from record["member"]["demographic_info"]["address"]
            continue
        group = record["group"]
        yield from group["address"]
        for member in (group["group_head_info"], *group["member_list"]):
            yield from member["demographic_info"]["address"]


def test_every_code_a_population_uses_is_in_the_csv_with_its_parent(
    country_population: SmallPopulation,
) -> None:
    """An IBR that loads the CSV can resolve every region and district a record names, and the
    district's parent is the region the record names; else area columns would stay empty."""
    country = country_population.config.country
    rows = list(csv.DictReader(io.StringIO(areas_csv(country))))
    by_code = {row["area_code"]: row for row in rows}
    used = 0
    for address in _addresses(country_population):
        region, district = address["region_code"], address["sub_region_code"]
        assert by_code[region]["level"] == "1"
        assert by_code[region]["parent_code"] == ""
        assert by_code[district]["level"] == "2"
        assert by_code[district]["parent_code"] == region
        assert address["country_code"] == country
        used += 1
    assert used > 500
    for household in country_population.households:
        locality = by_code[household.locality.locality_code]
        assert (locality["level"], locality["parent_code"]) == (
            "3",
            household.locality.district_code,
        )
        assert locality["name"] == household.locality.locality_name


@pytest.mark.parametrize("country", sorted(COUNTRIES))
def test_the_hierarchy_is_well_formed(country: str) -> None:
    """Codes are unique, each parent is one level up and listed before its children."""
    text = areas_csv(country)
    assert text.splitlines()[0] == HEADER == ",".join(AREA_COLUMNS)
    seen: dict[str, int] = {}
    for area in areas_for(country):
        assert area.country_code == country
        assert area.area_code not in seen
        if area.level == 1:
            assert area.parent_code is None
        else:
            assert area.parent_code is not None
            assert seen[area.parent_code] == area.level - 1
        seen[area.area_code] = area.level
    assert {1, 2, 3} == set(seen.values())


def test_areas_do_not_depend_on_the_seed() -> None:
    """Reference data is the same for every seed: the same locality code has the same names."""
    from ibr_mock_data.pools import pools_for

    assert pools_for("KE", 1).localities == pools_for("KE", 2).localities


def test_cli_areas_writes_the_csv(tmp_path: Path) -> None:
    """`ibr-mock areas --country KE --out FILE` writes what `areas_csv` returns; stdout too."""
    out = tmp_path / "ke.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["areas", "--country", "KE", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == areas_csv("KE")
    printed = runner.invoke(app, ["areas", "--country", "BR"])
    assert printed.exit_code == 0
    assert printed.stdout == areas_csv("BR")


def test_cli_areas_rejects_an_unknown_country() -> None:
    """A typo in --country names the valid countries instead of a traceback."""
    result = CliRunner().invoke(app, ["areas", "--country", "XX"])
    assert result.exit_code != 0
    text = " ".join(result.output.replace("│", " ").split())
    assert "valid countries are KE, BR, ID, PH" in text
    assert "Traceback" not in result.output
