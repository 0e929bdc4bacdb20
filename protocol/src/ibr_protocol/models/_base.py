"""The base model and the constrained types shared by every wire model.

Each type mirrors one JSON Schema construct so that the models and the schemas agree:
formats are checked with the very FormatChecker jsonschema uses, patterns with Python's `re`
(as jsonschema does), and code lists are read from `spec/schemas/codes`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Annotated, Any, TypeVar

from jsonschema import Draft202012Validator
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from ibr_protocol.codes import code_list
from ibr_protocol.input_limits import MAX_SAFE_INTEGER

_FORMATS = Draft202012Validator.FORMAT_CHECKER
T = TypeVar("T")


class WireModel(BaseModel):
    """Strict, closed model of a JSON object on the wire.

    Optional fields are omitted on the wire, never `null`: an explicit `null` is rejected, as
    the schemas reject it. Dump with `to_wire()` for the canonical form.
    """

    model_config = ConfigDict(
        strict=True, extra="forbid", populate_by_name=True, regex_engine="python-re"
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [key for key, value in data.items() if value is None]
            if nulls:
                raise ValueError(
                    f"{', '.join(map(str, nulls))}: null is not allowed; omit the field"
                )
        return data

    def to_wire(self) -> dict[str, Any]:
        """The canonical JSON form: aliases (`@context`), optional fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OpenModel(WireModel):
    """A wire object DCI lets implementers extend (`meta`, query values): extra keys allowed."""

    model_config = ConfigDict(extra="allow")


def _format(name: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not _FORMATS.conforms(value, name):
            raise ValueError(f"{value!r} is not a valid {name} (format {name})")
        return value

    return check


def _code(list_name: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        codes = code_list(list_name)
        if codes.pattern is not None:
            if not codes.pattern.search(value):
                raise ValueError(f"{value!r} does not match {codes.pattern.pattern} ({list_name})")
        elif value not in codes.labels:
            raise ValueError(
                f"{value!r} is not a code of {list_name}; codes: {', '.join(codes.labels)}"
            )
        return value

    return check


def _unique(items: list[T]) -> list[T]:
    seen: list[Any] = []
    for item in items:
        key = item if isinstance(item, Hashable) else repr(item)
        if key in seen:
            raise ValueError(f"{item!r} appears twice; items must be unique (uniqueItems)")
        seen.append(key)
    return items


def _integral_float_to_int(value: Any) -> Any:
    # JSON Schema counts 1.0 as an integer (JSON has one number type); so must the models.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[
    int,
    BeforeValidator(_integral_float_to_int),
    Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER),
]
"""`type: integer`: an int, or a float with no fraction (read as that int), within I-JSON's
±(2^53 - 1) like every integer of the schemas (CONVENTIONS, IBR-ENV-010)."""


def unique_items(items: list[T]) -> list[T]:
    """`uniqueItems`: reject a list that holds the same value twice."""
    return _unique(items)


Text20 = Annotated[str, StringConstraints(min_length=1, max_length=20)]
Text32 = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Text50 = Annotated[str, StringConstraints(min_length=1, max_length=50)]
Text99 = Annotated[str, StringConstraints(min_length=1, max_length=99)]
Text255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Text999 = Annotated[str, StringConstraints(min_length=1, max_length=999)]
Text2000 = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1)]

DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"([0-5][0-9]|60)(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)

Date = Annotated[str, StringConstraints(pattern=DATE_PATTERN), AfterValidator(_format("date"))]
"""A calendar date `YYYY-MM-DD` (data/date)."""
DateTime = Annotated[
    str, StringConstraints(pattern=DATE_TIME_PATTERN), AfterValidator(_format("date-time"))
]
"""An RFC 3339 instant with zone (data/date_time)."""
API_DATE_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
ApiDateTime = Annotated[
    str, StringConstraints(pattern=API_DATE_TIME_PATTERN), AfterValidator(_format("date-time"))
]
"""An RFC 3339 instant with zone in headers and messages (api/common#/$defs/date_time)."""
Uri = Annotated[str, AfterValidator(_format("uri"))]
"""`format: uri` (checked exactly as jsonschema checks it: only when a URI checker is installed)."""
Email = Annotated[
    str,
    StringConstraints(min_length=1, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"),
    AfterValidator(_format("email")),
]

JsonLdContext = NonEmptyText | dict[str, Any] | list[NonEmptyText | dict[str, Any]]
JsonLdType = NonEmptyText | list[NonEmptyText]
JsonLdId = NonEmptyText

AssistanceUnitCode = Annotated[str, AfterValidator(_code("assistance_unit"))]
BenefitTypeCode = Annotated[str, AfterValidator(_code("benefit_type"))]
ContributionTypeCode = Annotated[str, AfterValidator(_code("contribution_type"))]
CurrencyCode = Annotated[str, AfterValidator(_code("currency_code"))]
DisabilityTypeCode = Annotated[str, AfterValidator(_code("disability_type"))]
EducationLevelCode = Annotated[str, AfterValidator(_code("education_level"))]
EmploymentStatusCode = Annotated[str, AfterValidator(_code("employment_status"))]
EnrolmentStatusCode = Annotated[str, AfterValidator(_code("enrolment_status"))]
FrequencyCode = Annotated[str, AfterValidator(_code("frequency"))]
FunctionalSeverityCode = Annotated[str, AfterValidator(_code("functional_severity"))]
IdentifierTypeCode = Annotated[str, AfterValidator(_code("identifier_type"))]
InstitutionTypeCode = Annotated[str, AfterValidator(_code("institution_type"))]
LanguageCode = Annotated[str, AfterValidator(_code("language_code"))]
LegalStatusCode = Annotated[str, AfterValidator(_code("legal_status"))]
MaritalStatusCode = Annotated[str, AfterValidator(_code("marital_status"))]
OccupationCode = Annotated[str, AfterValidator(_code("occupation"))]
PaymentModeCode = Annotated[str, AfterValidator(_code("payment_mode"))]
PaymentStatusCode = Annotated[str, AfterValidator(_code("payment_status"))]
ProgrammeTypeCode = Annotated[str, AfterValidator(_code("programme_type"))]
RelationshipTypeCode = Annotated[str, AfterValidator(_code("relationship_type"))]
SexCode = Annotated[str, AfterValidator(_code("sex"))]
SocialProtectionFunctionCode = Annotated[str, AfterValidator(_code("social_protection_function"))]
