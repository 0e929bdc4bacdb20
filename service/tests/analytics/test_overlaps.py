"""Cross-programme overlaps against the planted truth, and incremental = full recompute."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.overlaps import detect_overlaps, overlap_pairs
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.scoring import truth_pairs

from .conftest import Population, population


@pytest.mark.parametrize(("seed", "country"), [(3, "KE"), (11, "BR")])
def test_every_planted_overlap_is_found_and_nothing_else(seed: int, country: str) -> None:
    pop = population(seed, 3000, country)
    expected = truth_pairs(pop.truth, "cross_programme_overlap")
    assert len(expected) >= 10, "the population must plant overlaps for the test to mean much"
    found = overlap_pairs(detect_overlaps(pop.frames, load_rules()))
    assert found - expected == set(), "false positives"
    assert expected - found == set(), "missed overlaps"


def test_household_overlaps_are_found_through_the_household_identity(mock: Population) -> None:
    overlaps = detect_overlaps(mock.frames, load_rules())
    household = overlaps[overlaps["unit"] == "household"]
    assert not household.empty
    assert set(household["programme_a"] + "x" + household["programme_b"]) == {"CCTxFOOD"}
    assert household["identity_key"].str.startswith("g:").all()


def test_incremental_checks_of_batches_agree_with_the_full_recompute(mock: Population) -> None:
    rules = load_rules()
    full = detect_overlaps(mock.frames, rules)
    keys = sorted(mock.frames.enrolments["subject_key"].unique())
    batches = [keys[n : n + 97] for n in range(0, len(keys), 97)]
    seen = set()
    for batch in batches:
        found = detect_overlaps(mock.frames, rules, subject_keys=batch)
        touched = set(batch) | set(
            mock.frames.memberships.loc[
                mock.frames.memberships["member_key"].isin(batch), "subject_key"
            ]
        )
        expected = full[full["identity_key"].isin(touched)]
        assert set(found["case_id"]) >= set(expected["case_id"])
        assert set(found["case_id"]) <= set(full["case_id"])
        seen |= set(found["case_id"])
    assert seen == set(full["case_id"])


def test_open_statuses_only_drops_closed_enrolments(mock: Population, tmp_path: Path) -> None:
    text = load_rules_text().replace("statuses: any", "statuses: open")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(text)
    everything = detect_overlaps(mock.frames, load_rules())
    open_only = detect_overlaps(mock.frames, load_rules(rules_file))
    assert set(open_only["case_id"]) == set(everything.loc[everything["concurrent"], "case_id"])
    assert len(open_only) < len(everything)


def test_a_deployment_that_excludes_by_default_flags_every_unlisted_pair(
    mock: Population, tmp_path: Path
) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(
        "default: exclude\nrules:\n  - programmes: [OAP, CHG]\n    relation: combine\n"
    )
    overlaps = detect_overlaps(mock.frames, load_rules(rules_file))
    pairs = set(zip(overlaps["programme_a"], overlaps["programme_b"], strict=True))
    assert ("CHG", "OAP") not in pairs
    assert len(pairs) > 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - programmes: [OAP]\n", "expected two programme codes"),
        ("rules:\n  - programmes: [OAP, DSG]\n    unit: family\n", "'family' is not one of"),
        ("default: maybe\n", "'maybe' is not one of"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_bad_rules_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(text)
    with pytest.raises(AnalyticsError, match=message) as error:
        load_rules(rules_file)
    assert "\n" not in str(error.value)


def load_rules_text() -> str:
    from ibr_service.analytics.rules import DEFAULT_RULES_FILE

    return DEFAULT_RULES_FILE.read_text()
