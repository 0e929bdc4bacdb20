"""Data elements (`spec/schemas/data`): Beneficiary, Programme, Benefit, Member, Person, ...

Each class matches the schema file of the same name, field for field; the constraints that
JSON Schema states across fields (`anyOf required`, `if/then`, `minProperties`) are the
`model_validator`s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from ibr_protocol.models._base import (
    AssistanceUnitCode,
    BenefitTypeCode,
    ContributionTypeCode,
    CurrencyCode,
    Date,
    DateTime,
    DisabilityTypeCode,
    EducationLevelCode,
    Email,
    EmploymentStatusCode,
    EnrolmentStatusCode,
    FrequencyCode,
    FunctionalSeverityCode,
    IdentifierTypeCode,
    InstitutionTypeCode,
    Integer,
    JsonLdContext,
    JsonLdId,
    JsonLdType,
    LanguageCode,
    LegalStatusCode,
    MaritalStatusCode,
    NonEmptyText,
    OccupationCode,
    PaymentModeCode,
    PaymentStatusCode,
    ProgrammeTypeCode,
    RelationshipTypeCode,
    SexCode,
    SocialProtectionFunctionCode,
    Text20,
    Text50,
    Text99,
    Text255,
    Text999,
    Text2000,
    WireModel,
    unique_items,
)

PhoneNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^\+?[0-9][0-9 ().-]{2,31}$")
]
CountryCode = Annotated[str, StringConstraints(min_length=1, max_length=2, pattern=r"^[A-Z]{2}$")]
PlusCode = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=20,
        pattern=r"^[23456789CFGHJMPQRVWX]{8}\+[23456789CFGHJMPQRVWX]{2,7}$",
    ),
]
Amount = Annotated[str, StringConstraints(max_length=32, pattern=r"^-?[0-9]+(\.[0-9]+)?$")]


class DataElement(WireModel):
    """A data element: may carry the JSON-LD keywords `@context`, `@type`, `@id` (ignored)."""

    context: JsonLdContext | None = Field(default=None, alias="@context")
    type_: JsonLdType | None = Field(default=None, alias="@type")
    id_: JsonLdId | None = Field(default=None, alias="@id")

    def _require_some_property(self) -> None:
        if not self.model_fields_set:
            raise ValueError(
                "the object is empty; at least one property is required (minProperties)"
            )


class Identifier(DataElement):
    """An identifier of a person, member or group (type code + value)."""

    identifier_type: IdentifierTypeCode
    identifier_value: Text99


class Name(DataElement):
    """A person's name parts."""

    surname: Text255 | None = None
    given_name: Text255 | None = None
    second_name: Text255 | None = None
    maiden_name: Text255 | None = None
    prefix: Text50 | None = None
    suffix: Text50 | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Name:
        self._require_some_property()
        return self


class GeoLocation(DataElement):
    """A point: latitude and longitude, or a plus code."""

    name: Text255 | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    plus_code: PlusCode | None = None

    @model_validator(mode="after")
    def _point(self) -> GeoLocation:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together (dependentRequired)")
        if self.latitude is None and self.plus_code is None:
            raise ValueError("either latitude and longitude, or plus_code, is required (anyOf)")
        return self


class Address(DataElement):
    """A postal address."""

    address_line_1: Text255 | None = None
    address_line_2: Text255 | None = None
    locality: Text255 | None = None
    sub_region_code: Text50 | None = None
    region_code: Text50 | None = None
    postal_code: Text20 | None = None
    country_code: CountryCode | None = None
    geo_location: GeoLocation | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Address:
        self._require_some_property()
        return self


class Person(DataElement):
    """Demographic information of a person."""

    identifier: Annotated[list[Identifier], Field(min_length=1)] | None = None
    name: Name | None = None
    sex: SexCode | None = None
    birth_date: Date | None = None
    death_date: Date | None = None
    address: Annotated[list[Address], Field(min_length=1)] | None = None
    phone_number: Annotated[list[PhoneNumber], Field(min_length=1)] | None = None
    email: Annotated[list[Email], Field(min_length=1)] | None = None
    registration_date: DateTime | None = None
    last_updated: DateTime | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Person:
        self._require_some_property()
        return self


class RelatedPerson(DataElement):
    """A person related to a member, and how."""

    relationship_type: RelationshipTypeCode
    related_member: Person


class DisabilityInfo(DataElement):
    """A functional limitation and its severity."""

    disability_limitation_type: DisabilityTypeCode
    functional_severity: FunctionalSeverityCode | None = None


class AttributeNameValue(DataElement):
    """An implementer-defined attribute (name and value)."""

    name: Text99
    value: NonEmptyText | int | float | bool | dict[str, Any]


class Member(DataElement):
    """An individual: identifiers, demographics and social attributes."""

    member_identifier: Annotated[list[Identifier], Field(min_length=1)] | None = None
    demographic_info: Person | None = None
    related_person: Annotated[list[RelatedPerson], Field(min_length=1)] | None = None
    is_disabled: bool | None = None
    disability_info: Annotated[list[DisabilityInfo], Field(min_length=1)] | None = None
    marital_status: MaritalStatusCode | None = None
    employment_status: EmploymentStatusCode | None = None
    occupation: OccupationCode | None = None
    income_level: Text50 | None = None
    language_code: (
        Annotated[list[LanguageCode], Field(min_length=1), AfterValidator(unique_items)] | None
    ) = None
    education_level: EducationLevelCode | None = None
    additional_attributes: Annotated[list[AttributeNameValue], Field(min_length=1)] | None = None
    registration_date: DateTime | None = None
    last_updated: DateTime | None = None

    @model_validator(mode="after")
    def _identified(self) -> Member:
        if self.member_identifier is None and self.demographic_info is None:
            raise ValueError("member_identifier or demographic_info is required (anyOf)")
        return self


class Group(DataElement):
    """A household or family."""

    group_identifier: Annotated[list[Identifier], Field(min_length=1)] | None = None
    group_type: AssistanceUnitCode | None = None
    address: Annotated[list[Address], Field(min_length=1)] | None = None
    geographical_location: GeoLocation | None = None
    poverty_score: float | None = None
    poverty_score_type: Text99 | None = None
    group_head_info: Member | None = None
    group_size: Integer | None = Field(default=None, ge=1)
    member_list: Annotated[list[Member], Field(min_length=1)] | None = None
    registration_date: DateTime | None = None
    last_updated: DateTime | None = None
    additional_attributes: Annotated[list[AttributeNameValue], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _identified(self) -> Group:
        if self.group_identifier is None and self.group_head_info is None:
            raise ValueError("group_identifier or group_head_info is required (anyOf)")
        return self


class Money(DataElement):
    """An amount (decimal string) in a currency (ISO 4217)."""

    amount: Amount
    currency: CurrencyCode


Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class BenefitFrequency(DataElement):
    """How often a benefit recurs, after RFC 5545 RRULE (plus `ONCE`)."""

    freq: FrequencyCode
    interval: Integer | None = Field(default=None, ge=1)
    dtstart: Date | None = None
    until: Date | None = None
    count: Integer | None = Field(default=None, ge=1)
    wkst: Weekday | None = None

    @model_validator(mode="after")
    def _rrule(self) -> BenefitFrequency:
        if self.until is not None and self.count is not None:
            raise ValueError("until and count exclude each other (not required both)")
        if self.freq == "ONCE":
            extra = [
                name
                for name in ("interval", "until", "count", "wkst")
                if getattr(self, name) is not None
            ]
            if extra:
                raise ValueError(f"freq ONCE does not recur: {', '.join(extra)} not allowed")
        return self


class Disbursement(DataElement):
    """One payment of a benefit."""

    disbursement_id: Text99 | None = None
    disbursement_date: Date
    amount: Money | None = None
    payment_status: PaymentStatusCode
    payment_mode: PaymentModeCode | None = None
    financial_institution: Text255 | None = None
    credit_date: Date | None = None
    credited_amount: Money | None = None
    charges: Money | None = None


class Benefit(DataElement):
    """A benefit given to a beneficiary under a programme."""

    benefit_id: Text99 | None = None
    benefit_type: BenefitTypeCode
    benefit_date: Date
    benefit_value: Money | None = None
    benefit_description: Text2000 | None = None
    benefit_quantity: Integer | None = Field(default=None, ge=0)
    benefit_frequency: BenefitFrequency | None = None
    period_start: Date | None = None
    period_end: Date | None = None
    disbursement: Disbursement | None = None


class Programme(DataElement):
    """A social protection programme."""

    programme_identifier: Text99
    programme_name: Text255
    programme_description: Text2000 | None = None
    implementing_institution: Text255 | None = None
    institution_type: InstitutionTypeCode | None = None
    legal_status: LegalStatusCode | None = None
    social_protection_functions: (
        Annotated[
            list[SocialProtectionFunctionCode], Field(min_length=1), AfterValidator(unique_items)
        ]
        | None
    ) = None
    contribution_type: ContributionTypeCode | None = None
    programme_type: ProgrammeTypeCode | None = None
    benefit_frequency: BenefitFrequency | None = None


class ProgrammeEnrolment(DataElement):
    """A beneficiary's enrolment in one programme, with its benefits."""

    programme: Programme
    enrolment_date: Date
    enrolment_status: EnrolmentStatusCode
    status_change_date: Date | None = None
    status_reason: Text999 | None = None
    benefits: Annotated[list[Benefit], Field(min_length=1)] | None = None
    beneficiary_programme_id: Text99 | None = None


class Beneficiary(DataElement):
    """A member or group enrolled in one or more programmes."""

    assistance_unit: AssistanceUnitCode
    member: Member | None = None
    group: Group | None = None
    programme_identifier: Annotated[list[ProgrammeEnrolment], Field(min_length=1)]
    additional_attributes: Annotated[list[AttributeNameValue], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _unit_matches(self) -> Beneficiary:
        if self.assistance_unit == "1" and self.member is None:
            raise ValueError("assistance_unit 1 (member) requires member (if/then)")
        if self.assistance_unit in ("2", "3") and self.group is None:
            raise ValueError(
                f"assistance_unit {self.assistance_unit} (group) requires group (if/then)"
            )
        return self
