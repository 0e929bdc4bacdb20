"""ibr_mock_data: synthetic social protection beneficiaries with planted truth.

See mock_data/README.md. The command line is `ibr-mock` (`ibr_mock_data.cli`).
"""

from ibr_mock_data.areas import AREA_COLUMNS, Area, areas_csv, areas_for
from ibr_mock_data.cases import (
    ALIASED_IDENTIFIER_TYPE,
    AREA_MOVE,
    BENEFIT_CORRECTION,
    BENEFIT_REVERSAL,
    CONFLICTING_DEMOGRAPHICS,
    CROSS_PROGRAMME_OVERLAP,
    DEATH_REPORTED_ELSEWHERE,
    DUPLICATE_IN_PROGRAMME,
    FORMATTED_IDENTIFIER,
    FUZZY_DUPLICATE,
    KINDS,
    SPLIT_IDENTIFIER_ORDER,
    STALE_UPDATE,
    TruthCase,
)
from ibr_mock_data.config import (
    COUNTRIES,
    CountryProfile,
    Eligibility,
    GeneratorConfig,
    ProgrammeSpec,
    TruthRates,
    default_programmes,
)
from ibr_mock_data.envelopes import MAX_BATCH_SIZE, enrollment_update_batches
from ibr_mock_data.generate import (
    Block,
    SmallPopulation,
    follow_up_stream,
    generate,
    generate_block,
    small_population,
)
from ibr_mock_data.national_id import (
    MAX_SEED,
    InvalidNationalIdError,
    identifier_types_file,
    is_valid_national_id,
    national_id_for,
    national_id_for_index,
    validate_national_id,
)
from ibr_mock_data.output import FORMATS, Summary, write_population
from ibr_mock_data.records import beneficiary_record, programme_record

__all__ = [  # noqa: RUF022 - grouped by purpose, as the style guide asks
    # configuration
    "COUNTRIES",
    "CountryProfile",
    "Eligibility",
    "GeneratorConfig",
    "ProgrammeSpec",
    "TruthRates",
    "default_programmes",
    # generation
    "Block",
    "SmallPopulation",
    "follow_up_stream",
    "generate",
    "generate_block",
    "small_population",
    "beneficiary_record",
    "programme_record",
    # outputs
    "FORMATS",
    "MAX_BATCH_SIZE",
    "Summary",
    "enrollment_update_batches",
    "write_population",
    # planted truth
    "KINDS",
    "CROSS_PROGRAMME_OVERLAP",
    "DUPLICATE_IN_PROGRAMME",
    "FUZZY_DUPLICATE",
    "SPLIT_IDENTIFIER_ORDER",
    "FORMATTED_IDENTIFIER",
    "ALIASED_IDENTIFIER_TYPE",
    "CONFLICTING_DEMOGRAPHICS",
    "DEATH_REPORTED_ELSEWHERE",
    "AREA_MOVE",
    "STALE_UPDATE",
    "BENEFIT_CORRECTION",
    "BENEFIT_REVERSAL",
    "TruthCase",
    # administrative areas
    "AREA_COLUMNS",
    "Area",
    "areas_csv",
    "areas_for",
    # national ID
    "MAX_SEED",
    "InvalidNationalIdError",
    "identifier_types_file",
    "is_valid_national_id",
    "national_id_for",
    "national_id_for_index",
    "validate_national_id",
]
