"""Every spec example through both validators of the protocol library.

valid/     must pass `ibr_protocol.validate` and the matching pydantic model;
invalid/   must be rejected by both, jsonschema for the stated reason (path and keyword);
dci-variants/ and the DCI process-flow samples must be accepted after normalisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ibr_protocol import SchemaValidationError, validate
from ibr_protocol.models import model_for_schema
from ibr_protocol.normalise import normalise_envelope_report

SPEC = Path(__file__).resolve().parents[1]
EXAMPLES = SPEC / "examples"
DCI_SAMPLES = (
    SPEC.parents[1]
    / "shared/reference/dci/spdci-standards/release/sample-jsons/assets/example_files/ibr"
)
SCHEMAS_WITHOUT_MODEL = {
    "api/analytics_report",  # tables of the analytics extension: pandas frames, no model
    "api/analytics_snapshot_report",
    "api/jwks",
    "api/oauth2_token_request",
    "api/oauth2_token_response",
    "api/http_error_response",
}


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _files(kind: str) -> list[Path]:
    return sorted((EXAMPLES / kind).rglob("*.json"))


def valid_schema(path: Path) -> str:
    """`valid/<operation>/<schema>[.<variant>].json` -> `api/<schema>`."""
    return "api/" + path.name.split(".")[0]


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(EXAMPLES)) for p in paths]


VALID = _files("valid")
INVALID = _files("invalid")
VARIANTS = _files("dci-variants")


@pytest.mark.skipif(not VALID, reason="no examples under spec/examples/valid yet")
@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid_example_passes_both_validators(path: Path) -> None:
    """A valid example rejected by either validator means the schema and models drifted."""
    schema = valid_schema(path)
    instance = _load(path)
    validate(instance, schema)
    model = model_for_schema(schema)
    if model is None:
        assert schema in SCHEMAS_WITHOUT_MODEL, f"no model for {schema}"
        return
    parsed = model.model_validate(instance)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_none=True) == instance


@pytest.mark.skipif(not INVALID, reason="no examples under spec/examples/invalid yet")
@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_example_is_rejected_by_both_for_its_reason(path: Path) -> None:
    """An accepted invalid example means a rule of the standard is not enforced."""
    case = _load(path)
    with pytest.raises(SchemaValidationError) as caught:
        validate(case["instance"], case["schema"])
    expect = case["expect"]
    assert any(e.matches(expect["path"], expect["keyword"]) for e in caught.value.errors), (
        f"{path.name}: expected {expect} ({case['reason']}); got "
        + "; ".join(f"{e.pointer} {e.keyword}" for e in caught.value.errors)
    )
    model = model_for_schema(case["schema"])
    if model is None:
        assert case["schema"] in SCHEMAS_WITHOUT_MODEL, f"no model for {case['schema']}"
        return
    with pytest.raises(ValidationError):
        model.model_validate(case["instance"])


@pytest.mark.skipif(not VARIANTS, reason="no examples under spec/examples/dci-variants yet")
@pytest.mark.parametrize("path", VARIANTS, ids=_ids(VARIANTS))
def test_dci_variant_is_accepted_after_normalisation(path: Path) -> None:
    """A DCI-variant spelling the profile promises to accept must normalise to valid form."""
    case = _load(path)
    result = normalise_envelope_report(case["instance"])
    assert result.schema == case["schema"]
    validate(result.value, case["schema"])
    model = model_for_schema(case["schema"])
    assert model is not None
    model.model_validate(result.value)


@pytest.mark.dci_reference
@pytest.mark.parametrize(
    "name", ["processflow1req", "processflow1res", "processflow2req", "processflow2res"]
)
def test_dci_process_flow_sample_is_accepted_after_normalisation(name: str) -> None:
    """The DCI's own IBR samples must be accepted (after normalisation) by both validators."""
    path = DCI_SAMPLES / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"DCI reference samples not found at {DCI_SAMPLES}")
    result = normalise_envelope_report(_load(path))
    assert result.schema is not None
    validate(result.value, result.schema)
    model = model_for_schema(result.schema)
    assert model is not None
    model.model_validate(result.value)
