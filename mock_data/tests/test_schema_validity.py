"""Everything the generator emits validates against spec/schemas (via ibr_protocol.validate)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from ibr_mock_data import ALIASED_IDENTIFIER_TYPE, SmallPopulation, enrollment_update_batches
from ibr_protocol import validate
from ibr_protocol.normalise import normalise_record


def _aliased(population: SmallPopulation) -> set[str]:
    """Records that send NID under an alias type: DCI-variant input, canonical once normalised."""
    return {c["records"][1] for c in population.truth if c["kind"] == ALIASED_IDENTIFIER_TYPE}


def _validate(record: dict[str, Any], aliased: set[str]) -> None:
    if record["programme_identifier"][0]["beneficiary_programme_id"] in aliased:
        record = normalise_record("beneficiary", record)
    validate(record, "data/beneficiary")


def _sample_by_kind(population: SmallPopulation) -> list[dict[str, Any]]:
    """Up to 15 records of every (programme, status, planted?) kind, so no kind goes untested."""
    planted = {rid for case in population.truth for rid in case["records"][1:]}
    seen: Counter[tuple[str, str, bool]] = Counter()
    sample = []
    for record in population.beneficiaries:
        enrolment = record["programme_identifier"][0]
        kind = (
            enrolment["programme"]["programme_identifier"],
            enrolment["enrolment_status"],
            enrolment["beneficiary_programme_id"] in planted,
        )
        if seen[kind] < 15:
            seen[kind] += 1
            sample.append(record)
    return sample


def test_sampled_records_of_every_kind_validate(country_population: SmallPopulation) -> None:
    """Each programme, status and planted kind, in every country profile, is a valid Beneficiary;
    a failure means receivers would reject our fixtures."""
    sample = _sample_by_kind(country_population)
    units = {r["assistance_unit"] for r in sample}
    assert units == {"1", "2"}, "both member and household records must be exercised"
    aliased = _aliased(country_population)
    for record in sample:
        _validate(record, aliased)
    for update in country_population.updates:
        validate(update["beneficiary"], "data/beneficiary")


def test_registry_case_records_validate(registry_population: SmallPopulation) -> None:
    """Every record and follow-up of the registry cases is valid (aliased ones once normalised,
    as a receiver reads them); else an IBR would reject the cases instead of resolving them."""
    planted = {r for case in registry_population.truth for r in case["records"]}
    aliased = _aliased(registry_population)
    assert aliased
    for record in registry_population.beneficiaries:
        if record["programme_identifier"][0]["beneficiary_programme_id"] in planted:
            _validate(record, aliased)
    for update in registry_population.updates:
        validate(update["beneficiary"], "data/beneficiary")


def test_programmes_validate(population: SmallPopulation) -> None:
    """The catalogue is published with valid spec codes (programme type, functions, ...)."""
    assert len(population.programmes) >= 5
    for programme in population.programmes:
        validate(programme, "data/programme")


@pytest.mark.slow
def test_every_record_validates(population: SmallPopulation) -> None:
    """The whole KE population (not just a sample) is valid, including all planted records."""
    aliased = _aliased(population)
    for record in population.beneficiaries:
        _validate(record, aliased)


@pytest.mark.parametrize("batch_size", [1, 37, 150])
def test_enrollment_update_envelopes_validate(population: SmallPopulation, batch_size: int) -> None:
    """Batches are valid sync/enrollment/updates envelopes with the requested size; else an IBR
    would NACK the demo traffic."""
    records = population.beneficiaries[:300]
    envelopes = list(
        enrollment_update_batches(
            records, batch_size, "SP-MIS-KE", "IBR-KE", now=dt.datetime(2025, 6, 30, tzinfo=dt.UTC)
        )
    )
    sizes = [len(e["message"]["enrolled_updates"]["beneficiaries"]) for e in envelopes]
    assert sum(sizes) == len(records)
    assert all(size == batch_size for size in sizes[:-1])
    for envelope in envelopes:
        validate(envelope, "api/envelope_enrollment_updates_request")  # header; message is opaque
        assert envelope["header"]["total_count"] == len(
            envelope["message"]["enrolled_updates"]["beneficiaries"]
        )
    validate(envelopes[0]["message"], "messages/enrollment_updates_request")


def test_batch_size_above_spec_limit_is_refused(population: SmallPopulation) -> None:
    """The spec caps a batch at 1000 beneficiaries; a bigger one would be rejected on the wire."""
    with pytest.raises(ValueError, match=r"batch_size 1001: must be 1\.\.1000"):
        next(enrollment_update_batches(population.beneficiaries, 1001, "A", "B"))
