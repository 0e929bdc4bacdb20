"""The generator: blocks of households with their enrolments, benefits and planted truth."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ibr_mock_data.cases import FollowUp, TruthCase
from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.enrolment import Enrolment, enrol_households
from ibr_mock_data.pools import pools_for
from ibr_mock_data.population import Household, generate_households
from ibr_mock_data.records import beneficiary_record, programme_record
from ibr_mock_data.truth import plant_truth

__all__ = [
    "Block",
    "SmallPopulation",
    "follow_up_stream",
    "generate",
    "generate_block",
    "small_population",
]


@dataclass(slots=True)
class Block:
    """One unit of generation: about `config.block_people` people and everything about them."""

    index: int
    households: list[Household]
    enrolments: list[Enrolment]
    truth: list[TruthCase]
    follow_up_messages: list[FollowUp]

    def beneficiaries(self, config: GeneratorConfig) -> Iterator[dict[str, Any]]:
        """The block's programme records in canonical form."""
        programmes = {p.code: programme_record(p) for p in config.programmes}
        for e in self.enrolments:
            yield beneficiary_record(e, config, programmes[e.programme.code])

    def follow_ups(self, config: GeneratorConfig) -> Iterator[dict[str, Any]]:
        """The block's follow-up messages in push order: `{"case_id", "step", "beneficiary"}`."""
        programmes = {p.code: programme_record(p) for p in config.programmes}
        for f in self.follow_up_messages:
            yield f.as_dict(config, programmes[f.enrolment.programme.code])


def generate_block(config: GeneratorConfig, index: int) -> Block:
    """Generate block `index`; the result depends only on `config` and `index`."""
    if not 0 <= index < config.blocks:
        raise ValueError(
            f"block {index}: outside 0..{config.blocks - 1} for {config.people} people"
        )
    rng = random.Random(f"ibr-mock:{config.seed}:{index}")
    households = generate_households(config, pools_for(config.country, config.seed), index, rng)
    enrolments, ids = enrol_households(config, households, index, rng)
    people = sum(len(h.members) for h in households)
    enrolments, truth, follow_ups = plant_truth(config, enrolments, index, rng, ids, people)
    return Block(
        index=index,
        households=households,
        enrolments=enrolments,
        truth=truth,
        follow_up_messages=follow_ups,
    )


def generate(config: GeneratorConfig) -> Iterator[Block]:
    """Every block in order, one at a time (memory stays flat whatever `config.people` is)."""
    for index in range(config.blocks):
        yield generate_block(config, index)


def follow_up_stream(config: GeneratorConfig) -> Iterator[dict[str, Any]]:
    """Every follow-up message of the population, in push order (to send after every base
    record): `{"case_id", "step", "beneficiary"}`, block by block (memory stays flat)."""
    for block in generate(config):
        yield from block.follow_ups(config)


@dataclass(slots=True)
class SmallPopulation:
    """A whole small population in memory, for demos and tests."""

    config: GeneratorConfig
    households: list[Household]
    beneficiaries: list[dict[str, Any]]
    programmes: list[dict[str, Any]]
    truth: list[dict[str, Any]]
    updates: list[dict[str, Any]]  # follow-ups in push order: {"case_id", "step", "beneficiary"}


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
    updates: list[dict[str, Any]] = []
    for block in generate(config):
        households.extend(block.households)
        beneficiaries.extend(block.beneficiaries(config))
        truth.extend(case.as_dict() for case in block.truth)
        updates.extend(block.follow_ups(config))
    return SmallPopulation(
        config=config,
        households=households,
        beneficiaries=beneficiaries,
        programmes=[programme_record(p) for p in config.programmes],
        truth=truth,
        updates=updates,
    )
