from . import (
    test_api_http,
    test_concurrency,
    test_conformance,
    test_demo,
    test_identity_cases,
    test_models,
    test_outbox,
    test_overlap_cases,
    test_record_rules,
    test_store_contract,
    test_tour,
)
