"""ibr_mock_data: synthetic social protection beneficiaries with planted truth.

See mock_data/README.md. The command line is `ibr-mock` (`ibr_mock_data.cli`).
"""

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
    generate,
    generate_block,
    small_population,
)
from ibr_mock_data.national_id import (
    InvalidNationalIdError,
    is_valid_national_id,
    national_id_for_index,
    validate_national_id,
)
from ibr_mock_data.output import FORMATS, Summary, write_population
from ibr_mock_data.records import beneficiary_record, programme_record
from ibr_mock_data.truth import (
    CROSS_PROGRAMME_OVERLAP,
    DUPLICATE_IN_PROGRAMME,
    FUZZY_DUPLICATE,
    TruthCase,
)

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
    "CROSS_PROGRAMME_OVERLAP",
    "DUPLICATE_IN_PROGRAMME",
    "FUZZY_DUPLICATE",
    "TruthCase",
    # national ID
    "InvalidNationalIdError",
    "is_valid_national_id",
    "national_id_for_index",
    "validate_national_id",
]
