"""JSON Schema validation against the spec (Draft 2020-12, formats checked).

One `referencing.Registry` holds every file under `spec/schemas`, by its `$id` and by its file
URI, so relative `$ref`s resolve offline. Validators are built once per schema and cached.

Fast path: when `jsonschema_rs` is installed, `validate` first asks it (compiled, about 300 times
faster on a Beneficiary) whether the instance is valid, over the same schema files and with the
same format checks as `jsonschema` (its `FORMAT_CHECKER` functions are handed to it). Only an
instance it rejects is validated again by `jsonschema`, to word the errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ibr_protocol.errors import SchemaErrorDetail, SchemaValidationError, SpecError
from ibr_protocol.spec import read_json, schema_files, spec_dir

SCHEMA_BASE_URI = "https://spec.ibr.invalid/1.0/schemas/"
"""The `$id` prefix of every schema (see spec/CONVENTIONS.md)."""


def schema_uri(name: str) -> str:
    """The `$id` of a schema given its name, e.g. `"data/person"`."""
    return f"{SCHEMA_BASE_URI}{name}.schema.json"


@cache
def _registry_for(root: Path) -> tuple[Registry, dict[str, dict[str, Any]]]:
    registry: Registry = Registry()
    by_name: dict[str, dict[str, Any]] = {}
    for name, path in schema_files(root):
        contents = read_json(path)
        if not isinstance(contents, dict):
            raise SpecError(f"{path} is not a JSON Schema object", field=str(path))
        # A schema without `$id` still resolves its relative refs from its expected location.
        contents = {"$id": schema_uri(name), **contents}
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        registry = registry.with_resources(
            [(contents["$id"], resource), (schema_uri(name), resource), (path.as_uri(), resource)]
        )
        by_name[name] = contents
    return registry.crawl(), by_name


def schema_registry() -> Registry:
    """The registry of every schema under the current spec directory."""
    return _registry_for(spec_dir())[0]


def schema_names() -> list[str]:
    """Every schema name, e.g. `["api/ack", "data/beneficiary", ...]`."""
    return sorted(_registry_for(spec_dir())[1])


def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema called `name` (cached; do not mutate it)."""
    schemas = _registry_for(spec_dir())[1]
    try:
        return schemas[name]
    except KeyError:
        known = ", ".join(sorted(schemas)) or "none: is the spec directory empty?"
        raise SpecError(f"unknown schema {name!r}; known schemas: {known}", field=name) from None


@cache
def _validator_for(root: Path, name: str) -> Draft202012Validator:
    registry, schemas = _registry_for(root)
    if name not in schemas:
        load_schema(name)  # raises the helpful SpecError
    return Draft202012Validator(
        schemas[name], registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def validator_for(name: str) -> Draft202012Validator:
    """The cached validator of one schema, with format checking on."""
    return _validator_for(spec_dir(), name)


def _formats_in(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            yield schema["format"]
        for value in schema.values():
            yield from _formats_in(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _formats_in(value)


@cache
def _fast_validator_for(root: Path, name: str) -> Any:
    try:
        import jsonschema_rs
    except ImportError:  # optional accelerator: `jsonschema` alone gives the same verdicts
        return None
    _, schemas = _registry_for(root)
    if name not in schemas:
        load_schema(name)  # raises the helpful SpecError
    checker = Draft202012Validator.FORMAT_CHECKER
    # The same format rules as the jsonschema path: its checker decides every format the spec
    # uses (a format it does not know, such as `uri` without rfc3987, is not checked by either).
    used = {fmt for contents in schemas.values() for fmt in _formats_in(contents)}
    formats: dict[str, Callable[[str], bool]] = {fmt: _format_rule(checker, fmt) for fmt in used}
    registry = jsonschema_rs.Registry(_resources(schemas))
    return jsonschema_rs.validator_for(
        {"$ref": schema_uri(name)}, registry=registry, validate_formats=True, formats=formats
    )


def _resources(schemas: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(str(contents["$id"]), contents) for contents in schemas.values()]


def _format_rule(checker: FormatChecker, fmt: str) -> Callable[[str], bool]:
    """`checker.conforms(value, fmt)` as one cached call: the checker's own function for the
    format, its listed exceptions meaning "does not conform", exactly as `FormatChecker.check`
    treats them. A verdict depends on the string alone, so recent ones are kept (a batch
    repeats the same dates thousands of times)."""
    if fmt not in checker.checkers:
        return _any_value
    func, raises = checker.checkers[fmt]

    @lru_cache(maxsize=8192)
    def conforms(value: str) -> bool:
        try:
            return bool(func(value))
        except raises:
            return False

    return conforms


def _any_value(value: str) -> bool:
    return True


def is_valid(instance: Any, schema: str) -> bool:
    """True when `instance` meets `schema`; the fast path when available, else `jsonschema`."""
    fast = _fast_validator_for(spec_dir(), schema)
    if fast is not None:
        return bool(fast.is_valid(instance))
    return bool(validator_for(schema).is_valid(instance))


def _detail(error: ValidationError) -> SchemaErrorDetail:
    context: tuple[SchemaErrorDetail, ...] = ()
    if error.context:
        # For oneOf/anyOf, the branch that came closest explains the failure best.
        best = best_match(error.context)
        context = (_detail(best),) if best is not None else ()
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return SchemaErrorDetail(
        path=error.json_path,
        keyword=str(error.validator),
        message=message,
        schema_path="/".join(str(part) for part in error.schema_path),
        pointer="".join(f"/{part}" for part in error.absolute_path),
        context=context,
    )


def schema_errors(instance: Any, schema: str) -> list[SchemaErrorDetail]:
    """Every violation of `schema` by `instance`, the most relevant first; empty when valid."""
    errors = sorted(validator_for(schema).iter_errors(instance), key=relevance, reverse=True)
    return [_detail(error) for error in errors]


def validate(instance: Any, schema: str) -> None:
    """Validate `instance` against a spec schema, e.g. `validate(env, "api/envelope")`.

    Raises SchemaValidationError listing every violation with its JSON path and rule.
    """
    fast = _fast_validator_for(spec_dir(), schema)
    if fast is not None and fast.is_valid(instance):
        return
    errors = schema_errors(instance, schema)
    if not errors and fast is not None:
        # The regex engines differ at one edge: Python's `$` also matches before a final
        # newline, ECMA-262's (and the fast path's) does not. The stricter verdict stands.
        errors = [_fast_detail(error) for error in fast.iter_errors(instance)]
    if errors:
        raise SchemaValidationError(schema, errors)


def _fast_detail(error: Any) -> SchemaErrorDetail:
    parts = list(error.instance_path)
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    schema_parts = [str(part) for part in error.schema_path]
    return SchemaErrorDetail(
        path=path,
        keyword=schema_parts[-1] if schema_parts else "",
        message=str(error.message)[:300],
        schema_path="/".join(schema_parts),
        pointer="".join(f"/{part}" for part in parts),
    )


def clear_caches() -> None:
    """Forget loaded schemas and validators (for tests that point IBR_SPEC_DIR elsewhere)."""
    _registry_for.cache_clear()
    _validator_for.cache_clear()
    _fast_validator_for.cache_clear()
