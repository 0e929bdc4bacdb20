"""Unit tests of the catalogue, registry, config, redaction and coverage gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibr_conformance.config import load_config
from ibr_conformance.errors import CatalogueError, ConfigError
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.redaction import REDACTED, redact_body, redact_headers
from ibr_conformance.registry import CheckRegistry
from ibr_conformance.requirements import Level, RequirementCatalogue


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "requirements.yaml"
    path.write_text(text)
    return path


def test_catalogue_reads_levels_and_roles(tmp_path: Path) -> None:
    """If this fails, MUST/SHOULD are misread and fail/warn outcomes are wrong."""
    cat = RequirementCatalogue.from_file(
        _write(
            tmp_path,
            """
requirements:
  - {id: A-1, level: MUST NOT, text: x, applies_to: [ibr]}
  - {id: A-2, level: should, text: y, applies_to: sp-mis}
""",
        )
    )
    assert cat["A-1"].level is Level.MUST
    assert cat["A-2"].level is Level.SHOULD
    assert [r.id for r in cat.binding("ibr")] == ["A-1"]
    assert cat.level_of("UNKNOWN") is Level.MUST


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("requirements:\n  - {id: A, level: MUST}\n  - {id: A, level: MUST}\n", "twice"),
        ("requirements:\n  - {id: A, level: PERHAPS}\n", "unknown level"),
        ("requirements:\n  - {level: MUST}\n", "lacks"),
    ],
    ids=["duplicate-id", "bad-level", "no-id"],
)
def test_catalogue_errors_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    """If this fails, a broken catalogue is silently accepted and the coverage gate lies."""
    with pytest.raises(CatalogueError, match=match):
        RequirementCatalogue.from_file(_write(tmp_path, text))


def test_registry_rejects_duplicates_and_unknown_names() -> None:
    """If this fails, two checks can shadow each other or a typo in --checks runs nothing."""
    reg = CheckRegistry()

    @reg.check(phase=Phase.ENVELOPE, profile=Profile.IBR, requirements=("R-1",))
    def a(ctx: object) -> list[object]:
        """Checks A."""
        return []

    with pytest.raises(Exception, match="twice"):
        reg.check(phase=Phase.ENVELOPE, profile=Profile.IBR, requirements=("R-1",))(a)
    with pytest.raises(ConfigError, match="valid names"):
        reg.select(profile=Profile.IBR, names=["nope"])
    assert reg.covered_requirements() == {"R-1": ["a"]}
    assert reg.select(profile=Profile.IBR)[0].title == "Checks A."


def test_config_precedence_flags_over_env_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a CI flag or env setting is ignored in favour of a stale config file."""
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("base_url: http://file\nseed: 1\ntimeout: 3\nbase_path: dci/\n")
    monkeypatch.setenv("IBR_CONFORMANCE_SEED", "2")
    monkeypatch.setenv("IBR_CONFORMANCE_TIMEOUT", "4")
    cfg = load_config(file=cfg_file, overrides={"timeout": 5.0, "base_url": None})
    assert (cfg.base_url, cfg.seed, cfg.timeout) == ("http://file", 2, 5.0)
    assert cfg.operation_url("sync/search") == "http://file/dci/registry/sync/search"


def test_config_error_names_the_setting() -> None:
    """If this fails, a vendor gets a stack trace instead of the name of the bad setting."""
    with pytest.raises(ConfigError, match="base_url"):
        load_config(overrides={})
    with pytest.raises(ConfigError, match="profile"):
        load_config(overrides={"base_url": "http://x", "profile": "registry"})


def test_redaction_removes_tokens_and_private_keys() -> None:
    """If this fails, reports handed to certifiers leak bearer tokens or private keys."""
    headers = redact_headers({"Authorization": "Bearer abc.def", "X-Id": "1"})
    assert headers == {"Authorization": f"Bearer {REDACTED}", "X-Id": "1"}
    body = redact_body({"access_token": "t", "jwk": {"kty": "OKP", "d": "secret"}, "n": [1]})
    assert body == {"access_token": REDACTED, "jwk": {"kty": "OKP", "d": REDACTED}, "n": [1]}


def test_coverage_gate_every_must_of_the_ibr_side_has_a_check_or_a_classification() -> None:
    """If this fails, a MUST of spec/requirements.yaml binding the IBR has no check and is not
    classified manual/not-testable: a certificate would be issued without verifying it."""
    from ibr_conformance.coverage import uncovered_musts
    from ibr_conformance.manual import NOT_AUTOMATED
    from ibr_conformance.requirements import default_catalogue_path

    catalogue = RequirementCatalogue.from_file(default_catalogue_path())
    assert len(catalogue) >= 90
    assert [r.id for r in uncovered_musts(catalogue, Profile.IBR)] == []
    assert set(NOT_AUTOMATED) <= set(catalogue), "a manual classification names an unknown id"


def test_every_check_names_only_real_requirement_ids() -> None:
    """If this fails, a check blames an id that spec/requirements.yaml does not have, so its
    failure cannot be traced to the standard."""
    import ibr_conformance.checks  # noqa: F401
    from ibr_conformance.registry import REGISTRY
    from ibr_conformance.requirements import default_catalogue_path

    catalogue = RequirementCatalogue.from_file(default_catalogue_path())
    stray = {(c.name, rid) for c in REGISTRY for rid in c.requirements if rid not in catalogue}
    assert stray == set()


def test_coverage_gate_catches_a_must_without_a_check(tmp_path: Path) -> None:
    """If this fails, the gate is blind: a new MUST could land without any check."""
    from ibr_conformance.coverage import uncovered_musts

    cat = RequirementCatalogue.from_file(
        _write(
            tmp_path,
            "requirements:\n  - {id: IBR-NEW-001, level: MUST, side: IBR, text: new}\n"
            "  - {id: IBR-NEW-002, level: SHOULD, side: IBR, text: optional}\n",
        )
    )
    assert [r.id for r in uncovered_musts(cat, Profile.IBR)] == ["IBR-NEW-001"]
    assert uncovered_musts(cat, Profile.SP_MIS) == []
