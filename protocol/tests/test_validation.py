"""Schema validation: every error carries its JSON path and rule, best first."""

from __future__ import annotations

from typing import Any

import pytest

from ibr_protocol import SchemaValidationError, SpecError, load_schema, schema_names, validate
from ibr_protocol.validation import is_valid, validator_for


def test_every_schema_file_loads_and_is_registered() -> None:
    """A schema that fails to load would make every validation that refers to it fail."""
    names = schema_names()
    assert "api/envelope" in names
    assert "data/beneficiary" in names
    for name in names:
        assert isinstance(load_schema(name), dict)


def test_valid_identifier_passes() -> None:
    """A canonical identifier must not raise."""
    validate({"identifier_type": "NID", "identifier_value": "1"}, "data/identifier")


def test_errors_name_the_path_and_the_rule() -> None:
    """Without path and keyword a sender cannot tell what to fix."""
    bad: dict[str, Any] = {"identifier_type": "not-a-code", "extra": 1}
    with pytest.raises(SchemaValidationError) as caught:
        validate(bad, "data/identifier")
    found = {(e.path, e.keyword) for e in caught.value.errors}
    assert ("$", "required") in found
    assert ("$", "additionalProperties") in found
    assert ("$.identifier_type", "oneOf") in found
    assert "data/identifier" in str(caught.value)
    assert caught.value.code == "err.request.bad"
    assert caught.value.reason == "err.request.bad.schema"


def test_format_is_checked_not_just_annotated() -> None:
    """An impossible date must be rejected even though it matches the pattern."""
    with pytest.raises(SchemaValidationError) as caught:
        validate("2024-02-30", "data/date")
    assert any(e.keyword == "format" for e in caught.value.errors)


def test_cross_file_refs_resolve_offline() -> None:
    """Relative $refs (data -> codes) must resolve from disk, with no network."""
    with pytest.raises(SchemaValidationError) as caught:
        validate({"sex": "F"}, "data/person")
    assert caught.value.errors[0].path == "$.sex"


def test_unknown_schema_names_the_known_ones() -> None:
    """A typo in a schema name should say what exists."""
    with pytest.raises(SpecError, match="data/beneficiary"):
        validate({}, "data/beneficary")


FORMAT_CASES = {
    "data/date": [
        "2024-02-29",
        "2023-02-29",
        "2024-02-30",
        "2024-13-01",
        "2024-1-01",
        "2024-01-01T00:00",
        "\u0662\u0660\u0662\u0664-01-01",
        "0000-01-01",
        "9999-12-31",
        " 2024-01-01",
        "",
        "x",
    ],
}


@pytest.mark.parametrize("value", FORMAT_CASES["data/date"])
def test_the_fast_validator_gives_the_format_verdicts_of_jsonschema(value: str) -> None:
    """If this fails, the compiled validator accepts a date `jsonschema` refuses (or the
    reverse): a batch item would then be stored, or rejected, depending on which one ran."""
    verdict = validator_for("data/date").is_valid(value)
    assert is_valid(value, "data/date") is verdict
    assert is_valid(value, "data/date") is verdict  # the remembered verdict too
