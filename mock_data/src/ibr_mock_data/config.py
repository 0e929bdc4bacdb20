"""What to generate: the country profile, the programme catalogue and the planted-truth rates.

Every option lives in `GeneratorConfig`; the same config and seed give byte-identical output.
Codes (programme type, benefit type, ...) are the DCI codes of the spec's code lists.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ibr_mock_data.national_id import MAX_SEED

__all__ = [
    "COUNTRIES",
    "Country",
    "CountryProfile",
    "Eligibility",
    "GeneratorConfig",
    "ProgrammeSpec",
    "TruthRates",
    "default_programmes",
]

Country = Literal["KE", "BR", "ID", "PH"]
Frequency = Literal["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "ONCE"]


class CountryProfile(BaseModel):
    """Locale data for one country: faker locales, currency, phone prefix (areas: `areas.py`)."""

    model_config = ConfigDict(frozen=True)

    code: Country
    name: str
    given_name_locales: tuple[str, ...]
    surname_locales: tuple[str, ...]
    place_locale: str
    currency: str
    amount_scale: Decimal = Field(description="multiplies the catalogue's base amounts")
    phone_prefix: str = Field(description="international prefix incl. mobile lead digits")
    phone_digits: int
    mean_household_size: float
    language_code: str = Field(description="ISO 639-3 code of the main language")


COUNTRIES: dict[str, CountryProfile] = {
    "KE": CountryProfile(
        code="KE",
        name="Kenya-like",
        given_name_locales=("en_KE", "sw"),
        surname_locales=("en_KE", "sw"),
        place_locale="en_KE",
        currency="KES",
        amount_scale=Decimal("100"),
        phone_prefix="+2547",
        phone_digits=8,
        mean_household_size=3.9,
        language_code="swa",
    ),
    "BR": CountryProfile(
        code="BR",
        name="Brazil-like",
        given_name_locales=("pt_BR",),
        surname_locales=("pt_BR",),
        place_locale="pt_BR",
        currency="BRL",
        amount_scale=Decimal("5"),
        phone_prefix="+55119",
        phone_digits=8,
        mean_household_size=3.0,
        language_code="por",
    ),
    "ID": CountryProfile(
        code="ID",
        name="Indonesia-like",
        given_name_locales=("id_ID",),
        surname_locales=("id_ID",),
        place_locale="id_ID",
        currency="IDR",
        amount_scale=Decimal("15000"),
        phone_prefix="+628",
        phone_digits=10,
        mean_household_size=3.8,
        language_code="ind",
    ),
    "PH": CountryProfile(
        code="PH",
        name="Philippines-like",
        given_name_locales=("en_PH", "fil_PH"),
        # Filipino surnames are mostly of Spanish origin; faker's en_PH surnames are not.
        surname_locales=("es_MX",),
        place_locale="en_PH",
        currency="PHP",
        amount_scale=Decimal("50"),
        phone_prefix="+639",
        phone_digits=9,
        mean_household_size=4.1,
        language_code="fil",
    ),
}


class Eligibility(BaseModel):
    """Who may enrol. All given conditions must hold (AND). Ages in whole years at enrolment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_age: int | None = None
    max_age: int | None = None
    disabled: bool | None = Field(None, description="require (True) or exclude (False) disability")
    max_poverty_score: float | None = Field(
        None, description="household poverty score (0 poorest .. 100) at most this"
    )
    household_child_under: int | None = Field(
        None, description="the household has a child younger than this"
    )
    formal_worker: bool | None = Field(None, description="contributed to social insurance")
    one_per_household: bool = Field(False, description="at most one member per household")


class ProgrammeSpec(BaseModel):
    """One programme of the catalogue, with the DCI codes it is published with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9]+$")
    name: str
    description: str
    implementing_institution: str
    institution_type: str = "1"
    legal_status: str = "1"
    programme_type: str
    social_protection_functions: tuple[str, ...]
    contribution_type: str = "3"
    benefit_type: str
    assistance_unit: Literal["1", "2"] = Field(description="1 = member, 2 = household")
    freq: Frequency = "MONTHLY"
    interval: int = Field(1, ge=1)
    pay_day: int = Field(25, ge=1, le=28)
    base_amount: Decimal = Field(description="per delivery, before the country's amount_scale")
    benefit_quantity: int | None = Field(None, ge=0, description="units per in-kind delivery")
    benefit_description: str | None = Field(None, description="what one delivery is")
    start_date: dt.date = dt.date(2015, 1, 1)
    eligibility: Eligibility
    take_up: float = Field(0.8, ge=0, le=1, description="share of eligible units that enrol")
    incompatible_with: tuple[str, ...] = Field(
        (), description="programme codes a beneficiary must not also be enrolled in"
    )
    suspension_rate: float = Field(0.04, ge=0, le=1)
    graduation_rate: float = Field(0.0, ge=0, le=1)
    graduation_age: int | None = Field(None, description="members graduate at this age")


def default_programmes() -> tuple[ProgrammeSpec, ...]:
    """A national catalogue resembling many low- and middle-income countries."""
    return (
        ProgrammeSpec(
            code="OAP",
            name="Older Persons Social Pension",
            description="Universal monthly pension for residents aged 65 and over.",
            implementing_institution="Ministry of Social Protection",
            programme_type="3",
            social_protection_functions=("1",),
            benefit_type="1",
            assistance_unit="1",
            base_amount=Decimal("20.00"),
            eligibility=Eligibility(min_age=65),
            take_up=0.85,
            incompatible_with=("DSG", "CSP"),
        ),
        ProgrammeSpec(
            code="DSG",
            name="Disability Support Grant",
            description="Monthly grant for adults with a severe disability.",
            implementing_institution="National Council for Persons with Disabilities",
            programme_type="8",
            social_protection_functions=("2",),
            benefit_type="1",
            assistance_unit="1",
            base_amount=Decimal("20.00"),
            eligibility=Eligibility(min_age=18, disabled=True),
            take_up=0.7,
            incompatible_with=("OAP",),
        ),
        ProgrammeSpec(
            code="CSP",
            name="Contributory Old Age Pension",
            description="Pension of the social insurance fund for former formal workers.",
            implementing_institution="National Social Security Fund",
            institution_type="1",
            programme_type="11",
            social_protection_functions=("1",),
            contribution_type="1",
            benefit_type="1",
            assistance_unit="1",
            base_amount=Decimal("60.00"),
            eligibility=Eligibility(min_age=60, formal_worker=True),
            take_up=0.95,
            incompatible_with=("OAP",),
            suspension_rate=0.01,
        ),
        ProgrammeSpec(
            code="CCT",
            name="Family Conditional Cash Transfer",
            description="Bi-monthly transfer to poor households with children, conditional on "
            "school attendance and health visits.",
            implementing_institution="Ministry of Social Protection",
            programme_type="2",
            social_protection_functions=("14", "5"),
            benefit_type="1",
            assistance_unit="2",
            interval=2,
            base_amount=Decimal("30.00"),
            eligibility=Eligibility(max_poverty_score=35, household_child_under=18),
            take_up=0.75,
            incompatible_with=("FOOD",),
            suspension_rate=0.08,
            graduation_rate=0.12,
        ),
        ProgrammeSpec(
            code="FOOD",
            name="Household Food Basket",
            description="Quarterly in-kind food basket for the poorest households.",
            implementing_institution="World Food Programme",
            institution_type="3",
            legal_status="2",
            programme_type="4",
            social_protection_functions=("13",),
            benefit_type="3",
            assistance_unit="2",
            interval=3,
            base_amount=Decimal("15.00"),
            benefit_quantity=1,
            benefit_description="Food basket: 25 kg of maize flour, beans and oil",
            eligibility=Eligibility(max_poverty_score=15),
            take_up=0.6,
            incompatible_with=("CCT",),
            graduation_rate=0.05,
        ),
        ProgrammeSpec(
            code="CHG",
            name="Early Childhood Grant",
            description="Monthly grant for children under five in low-income households.",
            implementing_institution="Ministry of Social Protection",
            programme_type="1",
            social_protection_functions=("4",),
            benefit_type="1",
            assistance_unit="1",
            base_amount=Decimal("8.00"),
            eligibility=Eligibility(max_age=4, max_poverty_score=40),
            take_up=0.7,
            graduation_age=5,
        ),
        ProgrammeSpec(
            code="PWP",
            name="Rural Public Works",
            description="Paid community work for one working-age adult per poor household.",
            implementing_institution="Ministry of Public Works",
            programme_type="6",
            social_protection_functions=("11",),
            benefit_type="5",
            assistance_unit="1",
            base_amount=Decimal("25.00"),
            eligibility=Eligibility(
                min_age=18,
                max_age=59,
                max_poverty_score=40,
                disabled=False,
                one_per_household=True,
            ),
            take_up=0.4,
            suspension_rate=0.1,
            graduation_rate=0.2,
        ),
    )


class TruthRates(BaseModel):
    """Rates of planted cases, per eligible enrolment record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cross_programme_overlap: float = Field(
        0.01, ge=0, le=1, description="enrolment copied into an incompatible programme, same ID"
    )
    duplicate_in_programme: float = Field(
        0.005, ge=0, le=1, description="enrolment registered twice in its programme, same ID"
    )
    fuzzy_duplicate: float = Field(
        0.01,
        ge=0,
        le=1,
        description="member enrolment registered again with altered name/date and no shared ID",
    )
    # The registry cases (issue #10): small defaults; a block of 500+ people holds at least one
    # case of every kind whose rate is not 0.
    split_identifier_order: float = Field(
        0.002, ge=0, le=1, description="person sent by two programmes as [NID, UIN] and [UIN, NID]"
    )
    formatted_identifier: float = Field(
        0.002, ge=0, le=1, description="NID sent by a second programme with spaces/hyphens"
    )
    aliased_identifier_type: float = Field(
        0.002, ge=0, le=1, description="NID sent by a second programme under an alias type"
    )
    conflicting_demographics: float = Field(
        0.002, ge=0, le=1, description="NID sent by a second programme with other sex/birth year"
    )
    death_reported_elsewhere: float = Field(
        0.002, ge=0, le=1, description="active person reported deceased by another programme"
    )
    area_move: float = Field(0.002, ge=0, le=1, description="follow-up with another district")
    stale_update: float = Field(
        0.002, ge=0, le=1, description="exit, then an Active update dated before the exit"
    )
    benefit_correction: float = Field(
        0.002, ge=0, le=1, description="follow-up correcting the amount of a sent benefit"
    )
    benefit_reversal: float = Field(
        0.002, ge=0, le=1, description="follow-up returning or cancelling a sent benefit"
    )


class GeneratorConfig(BaseModel):
    """Everything that decides the output. Same config, same bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(0, ge=0, le=MAX_SEED, description="each seed owns its own national IDs")
    people: int = Field(10_000, ge=1, le=100_000_000)
    country: Country = "KE"
    programmes: tuple[ProgrammeSpec, ...] = Field(default_factory=default_programmes)
    truth: TruthRates = TruthRates()
    as_of: dt.date = Field(dt.date(2025, 6, 30), description="the day the data is a snapshot of")
    benefit_months: int = Field(
        72, ge=1, le=240, description="benefit deliveries are generated for this many months"
    )
    block_people: int = Field(
        5_000, ge=10, le=1_000_000, description="people per block (unit of parallel work)"
    )
    id_coverage: float = Field(0.95, ge=0, le=1, description="adults holding a national ID")
    nid_type_aliases: tuple[str, ...] = Field(
        ("NationalID", "National ID"),
        min_length=1,
        description="how aliased_identifier_type cases spell NID (spec x-aliases by default)",
    )
    sender_id: str = "SP-MIS"
    receiver_id: str = "IBR"

    @model_validator(mode="after")
    def _check_catalogue(self) -> GeneratorConfig:
        codes = [p.code for p in self.programmes]
        if len(set(codes)) != len(codes):
            raise ValueError(f"programmes: duplicate programme code in {codes}")
        for p in self.programmes:
            unknown = set(p.incompatible_with) - set(codes)
            if unknown:
                raise ValueError(
                    f"programmes[{p.code}].incompatible_with: unknown codes {sorted(unknown)}; "
                    f"valid: {codes}"
                )
        return self

    @property
    def profile(self) -> CountryProfile:
        return COUNTRIES[self.country]

    @property
    def blocks(self) -> int:
        return -(-self.people // self.block_people)

    def programme(self, code: str) -> ProgrammeSpec:
        for p in self.programmes:
            if p.code == code:
                return p
        raise KeyError(f"programme {code!r}; valid: {[p.code for p in self.programmes]}")
