"""Duplicates against the planted truth: exact ones all found, fuzzy ones scored by splink."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from ibr_service.analytics.duplicates import exact_duplicates, fuzzy_duplicates
from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.analytics.linkage import BLOCKING_RULES, linkage_input, train
from ibr_service.analytics.scoring import pairs_of, score_pairs, truth_pairs

from .conftest import Population, population

# The acceptance thresholds of docs/analytics.md ("Duplicates").
MIN_PRECISION = 0.9
MIN_RECALL = 0.9


def test_every_planted_exact_duplicate_is_found_and_nothing_else(mock: Population) -> None:
    expected = truth_pairs(mock.truth, "duplicate_in_programme")
    assert len(expected) >= 10
    found = pairs_of(exact_duplicates(mock.frames), "record_a", "record_b")
    assert found == expected


def test_two_subjects_sharing_an_identifier_in_one_programme_are_exact_duplicates(
    mock: Population,
) -> None:
    frames = mock.frames
    enrolment = frames.enrolments.iloc[0]
    original = enrolment["subject_key"]
    twin = f"{original}~split"  # what an identity case (demographic clash) leaves behind

    def with_twin(table: pd.DataFrame, **changes: str) -> pd.DataFrame:
        row = table[table["subject_key"] == original].iloc[[0]].assign(subject_key=twin, **changes)
        return pd.concat([table, row], ignore_index=True)

    split = RegistryFrames(
        subjects=with_twin(frames.subjects),
        identifiers=with_twin(frames.identifiers),
        memberships=frames.memberships,
        enrolments=with_twin(
            frames.enrolments,
            enrolment_key=f"{twin}|{enrolment['programme_identifier']}|X1",
            beneficiary_programme_id="X1",
        ),
        benefits=frames.benefits,
    )
    found = exact_duplicates(split)
    pairs = [{a, b} for a, b in zip(found["record_a"], found["record_b"], strict=True)]
    assert {enrolment["beneficiary_programme_id"], "X1"} in pairs
    assert len(found) == len(exact_duplicates(frames)) + 1


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "country"), [(3, "KE"), (7, "PH"), (4, "ID")])
def test_fuzzy_duplicates_meet_the_precision_and_recall_we_set(seed: int, country: str) -> None:
    pop = population(seed, 4000, country)
    result = fuzzy_duplicates(pop.frames)
    expected = truth_pairs(pop.truth, "fuzzy_duplicate", pop.frames)
    score = score_pairs(
        "fuzzy_duplicate", expected, pairs_of(result.pairs, "subject_key_l", "subject_key_r")
    )
    print(f"\n{country} seed {seed}: {score}")
    assert score.expected >= 20
    assert score.precision >= MIN_PRECISION
    assert score.recall >= MIN_RECALL


def test_each_pair_is_explained_by_a_weight_per_field(mock: Population) -> None:
    pairs = fuzzy_duplicates(mock.frames).pairs
    assert not pairs.empty
    fields = [c for c in pairs.columns if c.startswith("mw_") and "tf_adj" not in c]
    assert {"mw_identifier", "mw_name", "mw_birth_date", "mw_sex"} <= set(fields)
    explained = pairs[fields].sum(axis=1) + pairs.filter(like="mw_tf_adj").sum(axis=1)
    prior = pairs["match_weight"] - explained
    assert prior.round(4).nunique() == 1, "total weight = prior + the fields' weights"
    assert (pairs["programmes"] != "").all()


def test_every_planted_fuzzy_duplicate_is_a_candidate_pair(mock: Population) -> None:
    records = linkage_input(mock.frames)
    expected = pd.DataFrame(
        [sorted(pair) for pair in truth_pairs(mock.truth, "fuzzy_duplicate", mock.frames)],
        columns=["key_l", "key_r"],
    )
    any_rule = " or ".join(f"({rule})" for rule in BLOCKING_RULES)
    connection = duckdb.connect()
    connection.register("records", records)
    connection.register("expected", expected)
    query = (
        "SELECT count(*) FROM expected JOIN records l ON l.unique_id = expected.key_l"
        " JOIN records r ON r.unique_id = expected.key_r WHERE NOT ({})"
    )
    missed = connection.execute(query.format(any_rule)).fetchone()
    assert len(expected) >= 20
    assert missed == (0,)


def test_training_estimates_m_and_u_of_every_level() -> None:
    """On this population EM drove an m probability below what splink accepts (1e-300) in the
    pass on equal names, and in the pass that replaced it: birth dates were left untrained.
    Null levels are the only ones splink never trains (they weigh nothing)."""
    model = train(linkage_input(population(1, 4000, "ID").frames))
    untrained = [
        f"{comparison['output_column_name']}: {level['label_for_charts']}"
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if not level.get("is_null_level") and not {"m_probability", "u_probability"} <= set(level)
    ]
    assert untrained == []


def test_a_training_pass_that_cannot_run_is_reported_in_one_line(mock: Population) -> None:
    records = linkage_input(mock.frames)
    days = pd.date_range("1900-01-01", periods=len(records), freq="D")  # no two born the same day
    records = records.assign(birth_date=days.strftime("%Y-%m-%d"), birth_year=days.year.astype(str))
    with pytest.raises(AnalyticsError, match="training pass on equal birth_date failed") as error:
        train(records)
    assert "\n" not in str(error.value)
