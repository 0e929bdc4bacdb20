"""The generator: blocks of households with their enrolments, benefits and planted truth."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.enrolment import Enrolment, enrol_households
from ibr_mock_data.pools import pools_for
from ibr_mock_data.population import Household, generate_households
from ibr_mock_data.records import beneficiary_record, programme_record
from ibr_mock_data.truth import TruthCase, plant_truth

__all__ = ["Block", "SmallPopulation", "generate", "generate_block", "small_population"]


@dataclass(slots=True)
class Block:
    """One unit of generation: about `config.block_people` people and everything about them."""

    index: int
    households: list[Household]
    enrolments: list[Enrolment]
    truth: list[TruthCase]

    def beneficiaries(self, config: GeneratorConfig) -> Iterator[dict[str, Any]]:
        """The block's programme records in canonical form."""
        programmes = {p.code: programme_record(p) for p in config.programmes}
        for e in self.enrolments:
            yield beneficiary_record(e, config, programmes[e.programme.code])


def generate_block(config: GeneratorConfig, index: int) -> Block:
    """Generate block `index`; the result depends only on `config` and `index`."""
    if not 0 <= index < config.blocks:
        raise ValueError(
            f"block {index}: outside 0..{config.blocks - 1} for {config.people} people"
        )
    rng = random.Random(f"ibr-mock:{config.seed}:{index}")
    households = generate_households(config, pools_for(config.country, config.seed), index, rng)
    enrolments, ids = enrol_households(config, households, index, rng)
    enrolments, truth = plant_truth(config, enrolments, index, rng, ids)
    return Block(index=index, households=households, enrolments=enrolments, truth=truth)


def generate(config: GeneratorConfig) -> Iterator[Block]:
    """Every block in order, one at a time (memory stays flat whatever `config.people` is)."""
    for index in range(config.blocks):
        yield generate_block(config, index)


@dataclass(slots=True)
class SmallPopulation:
    """A whole small population in memory, for demos and tests."""

    config: GeneratorConfig
    households: list[Household]
    beneficiaries: list[dict[str, Any]]
    programmes: list[dict[str, Any]]
    truth: list[dict[str, Any]]


def small_population(
    *, seed: int = 0, people: int = 200, country: str = "KE", **options: Any
) -> SmallPopulation:
    """A small population: canonical beneficiary records, programmes and the planted truth.

    >>> pop = small_population(seed=1, people=100)
    >>> pop.beneficiaries[0]["programme_identifier"][0]["programme"]["programme_identifier"]
    '...'
    """
    config = GeneratorConfig(seed=seed, people=people, country=country, **options)
    households: list[Household] = []
    beneficiaries: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    for block in generate(config):
        households.extend(block.households)
        beneficiaries.extend(block.beneficiaries(config))
        truth.extend(case.as_dict() for case in block.truth)
    return SmallPopulation(
        config=config,
        households=households,
        beneficiaries=beneficiaries,
        programmes=[programme_record(p) for p in config.programmes],
        truth=truth,
    )
