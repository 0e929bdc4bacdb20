"""Self-check of spec/schemas/data and spec/schemas/codes.

The data elements and code lists are the wire contract every part validates against, so these
tests check them as documents (meta-schema, references, conventions) and as behaviour (realistic
canonical beneficiaries pass, specific wrong ones fail for the stated reason).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).resolve().parents[1]
SCHEMAS_DIR = SPEC_DIR / "schemas"
OWNED_FOLDERS = ("data", "codes")
ID_PREFIX = "https://spec.ibr.invalid/1.0/schemas/"
DCI_DIR = SPEC_DIR.parent.parent / "shared" / "reference" / "dci"

CODE_ENTRY_KEYS = {"const", "title", "description"}
CODE_ENTRY_OPTIONAL_KEYS = {"x-aliases"}
JSONLD_KEYWORDS = {"@context", "@type", "@id"}

Json = dict[str, Any]


def _schema_files() -> list[Path]:
    return sorted(p for folder in OWNED_FOLDERS for p in (SCHEMAS_DIR / folder).glob("*.json"))


def _load(path: Path) -> Json:
    document: Json = json.loads(path.read_text(encoding="utf-8"))
    return document


def _file_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


SCHEMA_FILES = _schema_files()
CODE_FILES = [p for p in SCHEMA_FILES if p.parent.name == "codes"]
DATA_FILES = [p for p in SCHEMA_FILES if p.parent.name == "data"]
ENUM_CODE_FILES = [p for p in CODE_FILES if "oneOf" in _load(p)]


@pytest.fixture(scope="module")
def registry() -> Registry[Any]:
    """A registry of every schema under spec/schemas, keyed by its `$id`."""
    resources = []
    for path in sorted(SCHEMAS_DIR.glob("*/*.schema.json")):
        document = _load(path)
        resources.append((document["$id"], Resource.from_contents(document, DRAFT202012)))
    return Registry().with_resources(resources)


def _validator(registry: Registry[Any], element: str) -> Draft202012Validator:
    schema = _load(SCHEMAS_DIR / "data" / f"{element}.schema.json")
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def _failures(validator: Draft202012Validator, instance: Json) -> set[tuple[str, str]]:
    """Every (instance path, keyword) at which the instance fails, nested errors included."""

    def flatten(errors: Any) -> Iterator[tuple[str, str]]:
        for error in errors:
            path = "/" + "/".join(str(part) for part in error.absolute_path)
            yield path, str(error.validator)
            yield from flatten(error.context or [])

    return set(flatten(validator.iter_errors(instance)))


# ---------------------------------------------------------------------------------- documents


def test_the_required_files_exist() -> None:
    """The API/message schemas reference these names; a missing one breaks their `$ref`s."""
    data = {
        "beneficiary", "programme_enrolment", "programme", "benefit", "benefit_frequency",
        "disbursement", "member", "person", "group", "identifier", "name", "address",
        "geo_location", "related_person", "disability_info", "attribute_name_value", "money",
    }  # fmt: skip
    codes = {
        "assistance_unit", "enrolment_status", "benefit_type", "institution_type", "legal_status",
        "social_protection_function", "contribution_type", "programme_type", "sex",
        "identifier_type", "marital_status", "employment_status", "occupation", "education_level",
        "relationship_type", "disability_type", "functional_severity", "payment_status",
        "payment_mode", "frequency", "language_code", "currency_code",
    }  # fmt: skip
    present = {(p.parent.name, p.name.removesuffix(".schema.json")) for p in SCHEMA_FILES}
    missing = {("data", n) for n in data} | {("codes", n) for n in codes}
    assert missing - present == set()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_file_id)
def test_schema_is_valid_draft_2020_12_with_conventional_header(path: Path) -> None:
    """A schema that breaks the meta-schema or the naming rules cannot be loaded by validators."""
    schema = _load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{ID_PREFIX}{path.parent.name}/{path.name}"
    assert path.name.endswith(".schema.json")
    assert schema.get("title")
    assert schema.get("description")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_file_id)
def test_every_ref_resolves_from_disk(path: Path, registry: Registry[Any]) -> None:
    """A dangling or absolute `$ref` would make validation fail at run time, far from here."""
    schema = _load(path)
    resolver = registry.resolver(base_uri=schema["$id"])
    refs = [
        (ptr, node["$ref"])
        for ptr, node in _walk(schema)
        if isinstance(node, dict) and "$ref" in node
    ]
    assert all(isinstance(ref, str) for _, ref in refs)
    for pointer, ref in refs:
        assert not ref.startswith(("http:", "https:")), f"{pointer}: $ref must be relative"
        resolved = resolver.lookup(ref)
        assert isinstance(resolved.contents, dict), f"{pointer}: {ref} did not resolve to a schema"


@pytest.mark.parametrize("path", DATA_FILES, ids=_file_id)
def test_data_element_is_closed_and_documented(path: Path) -> None:
    """Open objects let typos through silently; undocumented properties cannot be reviewed."""
    schema = _load(path)
    if schema.get("type") != "object":
        return
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) >= JSONLD_KEYWORDS, "JSON-LD keywords must be allowed"
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{path.name}: property {name} has no description"
        if prop.get("type") == "string":
            assert not Draft202012Validator(prop).is_valid(""), f"{path.name}: {name} accepts ''"


@pytest.mark.parametrize("path", ENUM_CODE_FILES, ids=_file_id)
def test_code_list_is_code_plus_label(path: Path) -> None:
    """Code lists are `oneOf` {const, title, description}, so tools can map labels to codes."""
    schema = _load(path)
    assert schema["type"] == "string"
    entries = schema["oneOf"]
    assert entries, "empty code list"
    for entry in entries:
        assert CODE_ENTRY_KEYS <= set(entry) <= CODE_ENTRY_KEYS | CODE_ENTRY_OPTIONAL_KEYS, entry
        assert isinstance(entry["const"], str)
        assert entry["const"]
        assert entry["const"] == entry["const"].strip()
        assert entry["title"]
        assert entry["title"] == entry["title"].strip()
    codes = [e["const"] for e in entries]
    assert len(codes) == len(set(codes)), "duplicate code"
    # Receivers match a code exactly first, then titles and aliases case-insensitively: the
    # latter must each point at one code, and an alias must never be another entry's code.
    owner: dict[str, str] = {}
    for entry in entries:
        for spelling in (entry["title"], *entry.get("x-aliases", [])):
            claimed = owner.setdefault(spelling.casefold(), entry["const"])
            assert claimed == entry["const"], (
                f"{spelling!r} means both {claimed} and {entry['const']}"
            )
        for alias in entry.get("x-aliases", []):
            assert alias not in codes or alias == entry["const"], f"alias {alias!r} is another code"


# ------------------------------------------------------------------------------ behaviour


def _individual() -> Json:
    """An individual beneficiary enrolled in two programmes, with benefits and a disbursement."""
    return {
        "assistance_unit": "1",
        "member": {
            "member_identifier": [
                {"identifier_type": "UIN", "identifier_value": "847951632"},
                {"identifier_type": "BENEFICIARY_ID", "identifier_value": "OAP-2024-00017"},
            ],
            "demographic_info": {
                "identifier": [{"identifier_type": "NID", "identifier_value": "0205202401"}],
                "name": {"given_name": "Amina", "surname": "Otieno"},
                "sex": "female",
                "birth_date": "1952-03-14",
                "address": [
                    {
                        "locality": "Kisumu",
                        "region_code": "KE-17",
                        "country_code": "KE",
                        "geo_location": {"latitude": -0.0917, "longitude": 34.768},
                    }
                ],
                "phone_number": ["+254712345678"],
            },
            "is_disabled": True,
            "disability_info": [
                {"disability_limitation_type": "MOB_SS", "functional_severity": "3"}
            ],
            "marital_status": "W",
            "employment_status": "2",
            "language_code": ["swa", "luo"],
            "education_level": "1",
            "registration_date": "2024-01-15T08:30:00+03:00",
            "last_updated": "2024-06-01T10:00:00Z",
        },
        "programme_identifier": [
            {
                "programme": {
                    "programme_identifier": "OAP",
                    "programme_name": "Older Persons Cash Transfer",
                    "institution_type": "1",
                    "legal_status": "1",
                    "social_protection_functions": ["1", "14"],
                    "contribution_type": "3",
                    "programme_type": "3",
                    "benefit_frequency": {"freq": "MONTHLY", "interval": 2},
                },
                "enrolment_date": "2024-02-01",
                "enrolment_status": "1",
                "beneficiary_programme_id": "OAP-2024-00017",
                "benefits": [
                    {
                        "benefit_id": "OAP-PAY-2024-05-00017",
                        "benefit_type": "1",
                        "benefit_date": "2024-05-02",
                        "benefit_value": {"amount": "4000.00", "currency": "KES"},
                        "benefit_frequency": {"freq": "MONTHLY", "interval": 2},
                        "period_start": "2024-03-01",
                        "period_end": "2024-04-30",
                        "disbursement": {
                            "disbursement_id": "TXN-88231",
                            "disbursement_date": "2024-05-02",
                            "amount": {"amount": "4000.00", "currency": "KES"},
                            "payment_status": "1",
                            "payment_mode": "3",
                            "financial_institution": "M-Pesa",
                            "credit_date": "2024-05-03",
                        },
                    }
                ],
            },
            {
                "programme": {"programme_identifier": "NHIF-SUB", "programme_name": "Health Cover"},
                "enrolment_date": "2023-07-01",
                "enrolment_status": "4",
                "status_change_date": "2024-04-01",
                "status_reason": "Annual re-verification not completed",
                "benefits": [
                    {
                        "benefit_type": "6",
                        "benefit_date": "2023-07-01",
                        "benefit_description": "Subsidised health insurance premium",
                        "benefit_frequency": {"freq": "YEARLY", "dtstart": "2023-07-01"},
                    }
                ],
            },
        ],
        "additional_attributes": [{"name": "county_ward", "value": "Kondele"}],
    }


def _household() -> Json:
    """A household beneficiary with a head, two members and an in-kind benefit."""
    head = {
        "member_identifier": [{"identifier_type": "UIN", "identifier_value": "5566778899"}],
        "demographic_info": {"name": {"given_name": "Jose", "surname": "Reyes"}, "sex": "male"},
    }
    child = {
        "demographic_info": {
            "name": {"given_name": "Ana"},
            "sex": "female",
            "birth_date": "2015-09-30",
        },
        "related_person": [
            {
                "relationship_type": "FTH",
                "related_member": {
                    "identifier": [{"identifier_type": "UIN", "identifier_value": "5566778899"}]
                },
            }
        ],
    }
    return {
        "assistance_unit": "2",
        "group": {
            "group_identifier": [
                {"identifier_type": "HOUSEHOLD_ID", "identifier_value": "HH-0042"}
            ],
            "group_type": "2",
            "geographical_location": {"name": "Barangay 12", "plus_code": "7Q63J3C2+2V"},
            "poverty_score": 31.5,
            "poverty_score_type": "PMT-2023",
            "group_head_info": head,
            "group_size": 2,
            "member_list": [head, child],
        },
        "programme_identifier": [
            {
                "programme": {"programme_identifier": "FOOD-01", "programme_name": "Food Basket"},
                "enrolment_date": "2024-01-10",
                "enrolment_status": "1",
                "benefits": [
                    {
                        "benefit_type": "3",
                        "benefit_date": "2024-02-10",
                        "benefit_description": "Sacks of rice (25 kg)",
                        "benefit_quantity": 2,
                        "benefit_frequency": {"freq": "ONCE"},
                    }
                ],
            }
        ],
    }


def test_canonical_individual_beneficiary_is_valid(registry: Registry[Any]) -> None:
    """If this fails, the canonical form we emit for an individual no longer passes our own spec."""
    assert _failures(_validator(registry, "beneficiary"), _individual()) == set()


def test_canonical_household_beneficiary_is_valid(registry: Registry[Any]) -> None:
    """If this fails, household beneficiaries (assistance unit 2 with a group) are rejected."""
    assert _failures(_validator(registry, "beneficiary"), _household()) == set()


def test_json_ld_keywords_are_accepted_on_data_elements(registry: Registry[Any]) -> None:
    """DCI records carry @context/@type/@id; rejecting them would reject every DCI peer."""
    record = _individual()
    record["@context"] = {"@vocab": "https://schema.spdci.org/extensions/ibr/v1"}
    record["@type"] = "Beneficiary"
    record["@id"] = "Beneficiary"
    record["member"]["member_identifier"][0]["@type"] = "Identifier"
    assert _failures(_validator(registry, "beneficiary"), record) == set()


BUILDERS = {"_individual": _individual, "_household": _household}
ENROLMENT = "/programme_identifier/0"
BENEFIT = f"{ENROLMENT}/benefits/0"


def _set(record: Json, path: str, value: Any) -> Json:
    *parents, last = path.strip("/").split("/")
    node: Any = record
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return record


_DELETE = object()

WRONG_BENEFICIARIES = [
    pytest.param("_individual", "/member", _DELETE, ("/", "required"), id="unit-1-without-member"),
    pytest.param("_household", "/group", _DELETE, ("/", "required"), id="unit-2-without-group"),
    pytest.param(
        "_household", "/group/group_type", "1", ("/group/group_type", "enum"),
        id="individual-code-as-group-type",
    ),
    pytest.param(
        "_individual", f"{BENEFIT}/benefit_type", "Cash",
        (f"{BENEFIT}/benefit_type", "oneOf"), id="label-instead-of-code",
    ),
    pytest.param(
        "_individual", f"{BENEFIT}/benefit_type", "benefit:1",
        (f"{BENEFIT}/benefit_type", "oneOf"), id="prefixed-code",
    ),
    pytest.param(
        "_individual", "/member/registration_date", "2024-01-15T08:30:00",
        ("/member/registration_date", "pattern"), id="zone-less-date-time",
    ),
    pytest.param(
        "_individual", "/member/demographic_info/birth_date", "1952-03-14T00:00:00Z",
        ("/member/demographic_info/birth_date", "pattern"), id="date-time-for-a-date",
    ),
    pytest.param(
        "_individual", f"{BENEFIT}/benefit_value/amount", 4000.0,
        (f"{BENEFIT}/benefit_value/amount", "type"), id="amount-as-float",
    ),
    pytest.param(
        "_individual", f"{BENEFIT}/benefit_value/currency", "ksh",
        (f"{BENEFIT}/benefit_value/currency", "pattern"), id="currency-not-iso-4217",
    ),
    pytest.param(
        "_individual", f"{ENROLMENT}/status_reason", "",
        (f"{ENROLMENT}/status_reason", "minLength"), id="empty-string-optional-field",
    ),
    pytest.param(
        "_individual", "/member/demographic_info/death_date", None,
        ("/member/demographic_info/death_date", "type"), id="null-optional-field",
    ),
    pytest.param(
        "_individual", "/programme_identifier", _individual()["programme_identifier"][0],
        ("/programme_identifier", "type"), id="enrolment-not-a-list",
    ),
    pytest.param(
        "_individual", "/programme_identifier", [], ("/programme_identifier", "minItems"),
        id="no-enrolment",
    ),
    pytest.param(
        "_individual", f"{ENROLMENT}/enrollment_status", "1",
        (ENROLMENT, "additionalProperties"), id="dci-spelling-not-canonical",
    ),
    pytest.param(
        "_individual", "/member/is_disabled", "1", ("/member/is_disabled", "type"),
        id="boolean-as-string",
    ),
    pytest.param(
        "_individual", "/member/language_code/0", "en",
        ("/member/language_code/0", "pattern"), id="iso-639-1-language",
    ),
    pytest.param(
        "_individual", f"{BENEFIT}/benefit_frequency",
        {"freq": "MONTHLY", "until": "2025-01-01", "count": 3},
        (f"{BENEFIT}/benefit_frequency", "not"), id="until-and-count",
    ),
    pytest.param(
        "_household", "/programme_identifier/0/benefits/0/benefit_frequency",
        {"freq": "ONCE", "interval": 2},
        ("/programme_identifier/0/benefits/0/benefit_frequency/interval", "not"),
        id="one-off-with-interval",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("builder", "path", "value", "expected"), WRONG_BENEFICIARIES)
def test_wrong_beneficiary_is_rejected_for_the_stated_reason(
    registry: Registry[Any], builder: str, path: str, value: Any, expected: tuple[str, str]
) -> None:
    """Each case is one rule of CONVENTIONS.md; if it passes validation the rule is not enforced."""
    record = _set(BUILDERS[builder](), path, value)
    failures = _failures(_validator(registry, "beneficiary"), record)
    assert expected in failures, f"expected {expected}, got {sorted(failures)}"


def test_missing_member_is_reported_by_name(registry: Registry[Any]) -> None:
    """The error for assistance unit 1 without a member must name the missing field."""
    record = _individual()
    del record["member"]
    messages = [e.message for e in _validator(registry, "beneficiary").iter_errors(record)]
    assert "'member' is a required property" in messages


# ------------------------------------------------------------------------- DCI cross-check


def _dci_codes(relative: str) -> list[str]:
    """Codes named anywhere in a DCI JSON-LD code list (entries and owl:oneOf), prefix removed."""
    graph = json.loads((DCI_DIR / relative).read_text(encoding="utf-8"))["@graph"]
    names = [node["@id"] for node in graph[1:]] + list(graph[0].get("owl:oneOf", []))
    # `programme14` in ProgrammeTypeEnum has no colon (DEV-DATA-02).
    return [n.split(":", 1)[1] if ":" in n else n.removeprefix("programme") for n in names]


DCI_CODE_LISTS = [
    ("core/v1/code/AssistanceUnit.jsonld", "assistance_unit"),
    ("extensions/ibr/v1/code/EnrollmentStatusEnum.jsonld", "enrolment_status"),
    ("extensions/ibr/v1/code/BenefitTypeEnum.jsonld", "benefit_type"),
    ("extensions/ibr/v1/code/InstitutionEnum.jsonld", "institution_type"),
    ("extensions/ibr/v1/code/LegalStatusEnum.jsonld", "legal_status"),
    ("extensions/ibr/v1/code/SocialProtectionFunctionEnum.jsonld", "social_protection_function"),
    ("extensions/ibr/v1/code/ContributionTypeEnum.jsonld", "contribution_type"),
    ("extensions/ibr/v1/code/ProgrammeTypeEnum.jsonld", "programme_type"),
    ("core/v1/code/SexCategoryEnum.jsonld", "sex"),
    ("core/v1/code/IdentifierTypeEnum.jsonld", "identifier_type"),
    ("core/v1/code/MaritalStatusEnum.jsonld", "marital_status"),
    ("core/v1/code/EmploymentStatusEnum.jsonld", "employment_status"),
    ("core/v1/code/OccupationEnum.jsonld", "occupation"),
    ("core/v1/code/EducationCode.jsonld", "education_level"),
    ("core/v1/code/RelationshipTypeEnum.jsonld", "relationship_type"),
    ("core/v1/code/DisabilityTypeEnum.jsonld", "disability_type"),
    ("core/v1/code/FunctionalSeverityEnum.jsonld", "functional_severity"),
]


@pytest.mark.dci_reference
@pytest.mark.parametrize(
    ("dci_file", "code_list"), DCI_CODE_LISTS, ids=[c for _, c in DCI_CODE_LISTS]
)
def test_every_dci_code_is_a_code_or_alias(dci_file: str, code_list: str) -> None:
    """A DCI code missing here would make a valid DCI message fail validation after normalising."""
    source = DCI_DIR / "spdci-schemas" / dci_file
    if not source.is_file():
        pytest.skip(f"DCI reference files absent: {source} (see spec/CONVENTIONS.md)")
    ours = _load(SCHEMAS_DIR / "codes" / f"{code_list}.schema.json")["oneOf"]
    accepted = {s for e in ours for s in (e["const"], *e.get("x-aliases", []))}
    missing = sorted(set(_dci_codes(f"spdci-schemas/{dci_file}")) - accepted)
    assert missing == []


def test_every_deviation_cited_by_a_schema_is_logged() -> None:
    """A schema citing DEV-DATA-NN that no deviations file explains leaves a reviewer stranded."""
    logs = [SPEC_DIR / "DEVIATIONS.md"]
    logged = "\n".join(p.read_text(encoding="utf-8") for p in logs if p.is_file())
    cited = {
        match.group(0)
        for path in SCHEMA_FILES
        for match in re.finditer(r"DEV-DATA-[0-9]{2}", path.read_text(encoding="utf-8"))
    }
    assert cited, "schemas are expected to cite their deviations"
    rows = set(re.findall(r"^\| (DEV-DATA-[0-9]{2}) \|", logged, flags=re.MULTILINE))
    assert cited - rows == set()
