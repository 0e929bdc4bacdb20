"""DCI variants become canonical; input is never mutated; rules are reported."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ibr_protocol import (
    NormalisationError,
    SchemaValidationError,
    build_callback,
    encrypt_message,
    generate_encryption_key,
    generate_signing_key,
    normalise_envelope,
    normalise_record,
    public_jwk,
    sign_envelope,
    validate,
    verify_envelope,
)
from ibr_protocol.models import model_for_schema
from ibr_protocol.normalise import compat_profile, normalise_envelope_report

from .conftest import DCI_PROCESS_FLOWS, dci_sample


@pytest.mark.dci_reference
@pytest.mark.parametrize("name", DCI_PROCESS_FLOWS)
def test_dci_sample_is_accepted_by_both_validators(name: str) -> None:
    """The DCI's own IBR samples must be usable after normalisation."""
    raw = dci_sample(name)
    before = copy.deepcopy(raw)
    result = normalise_envelope_report(raw)
    assert raw == before, "normalise must not mutate its input"
    assert result.schema is not None
    validate(result.value, result.schema)
    model = model_for_schema(result.schema)
    assert model is not None
    model.model_validate(result.value)


@pytest.mark.dci_reference
def test_processflow1req_is_normalised_as_documented() -> None:
    """Spot-check the rules the issue lists on the enrolment sample."""
    result = normalise_envelope_report(dci_sample("processflow1req"))
    value = result.value
    assert "signature" not in value
    assert value["header"]["action"] == "notify"
    assert value["header"]["total_count"] == 1
    beneficiary = value["message"]["enrolled_updates"]["beneficiaries"][0]
    member = beneficiary["member"]
    person = member["demographic_info"]
    assert person["sex"] == "female"
    assert person["birth_date"] == "1980-04-12"
    assert person["name"]["given_name"] == "Test"
    assert member["is_disabled"] is False
    assert member["language_code"] == ["eng"]
    assert {"name": "occupation", "value": "Caregiver"} in member["additional_attributes"]
    enrolment = beneficiary["programme_identifier"][0]
    assert enrolment["enrolment_status"] == "1"
    benefit = enrolment["benefits"][0]
    assert benefit == {
        "benefit_type": "1",
        "benefit_date": "2024-05-02",
        "benefit_value": {"amount": "50", "currency": "USD"},
        "benefit_frequency": {"freq": "MONTHLY"},
    }
    applied = {rule.rule for rule in result.applied}
    assert {"C-RECEIPT", "C-PERSON-WRAP", "C-ENROLMENT-PLACE", "C-MONEY", "C-DATE"} <= applied


@pytest.mark.dci_reference
def test_nested_ack_becomes_the_ack_body() -> None:
    """processflow1res carries an ACK inside message.message; canonical is the ACK body."""
    result = normalise_envelope_report(dci_sample("processflow1res"))
    assert result.schema == "api/ack"
    assert result.value["message"]["timestamp"] == "2023-07-19T12:15:04.555Z"


@pytest.mark.dci_reference
def test_unmapped_code_is_rejected_in_strict_mode() -> None:
    """With unmapped_codes="reject" a free word names its field and list (DEV-DATA-21)."""
    with pytest.raises(NormalisationError, match="occupation") as caught:
        normalise_envelope(dci_sample("processflow1req"), unmapped_codes="reject")
    assert caught.value.code == "err.request.bad"
    assert caught.value.field is not None
    assert caught.value.field.endswith("occupation")


def test_required_code_that_matches_nothing_is_rejected() -> None:
    """A benefit type no code list knows must fail, naming the field, never be guessed."""
    with pytest.raises(NormalisationError, match="benefit_type"):
        normalise_record("benefit", {"benefit_type": "Gold bars", "benefit_date": "2024-01-01"})


def test_conflicting_spellings_are_rejected() -> None:
    """enrollment_status and enrolment_status with different values cannot both be right."""
    raw: dict[str, Any] = {
        "programme": {"programme_identifier": "P", "programme_name": "N"},
        "enrolment_date": "2024-01-01",
        "enrolment_status": "1",
        "enrollment_status": "4",
    }
    with pytest.raises(NormalisationError, match="enrollment_status"):
        normalise_record("programme_enrolment", raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("USD 50", {"amount": "50", "currency": "USD"}),
        ("50.25 KES", {"amount": "50.25", "currency": "KES"}),
        ("usd50", {"amount": "50", "currency": "USD"}),
    ],
)
def test_money_text_forms(raw: str, expected: dict[str, str]) -> None:
    """The money spellings of DEV-DATA-08 become Money objects."""
    benefit = normalise_record(
        "benefit", {"benefit_type": "1", "benefit_date": "2024-01-01", "benefit_value": raw}
    )
    assert benefit["benefit_value"] == expected


def test_canonical_input_is_left_as_is() -> None:
    """Normalising canonical data must be the identity (no rule applies)."""
    benefit = {"benefit_type": "1", "benefit_date": "2024-01-01"}
    result = normalise_envelope_report({"header": {}, "message": {"x": benefit}})
    assert result.value["message"]["x"] == benefit


def test_profile_tables_refer_to_existing_code_lists_and_rules() -> None:
    """A typo in the compat YAML would silently disable a rule."""
    from ibr_protocol.codes import code_list

    profile = compat_profile()
    for list_name in set(profile.code_fields.values()):
        code_list(list_name)
    assert {"C-EMPTY", "C-CODE", "C-NESTED-ACK"} <= profile.rule_ids


@pytest.mark.parametrize("header", [[], "text", 7, None], ids=["list", "str", "int", "null"])
def test_a_header_that_is_not_an_object_is_left_for_the_schema_to_reject(header: object) -> None:
    """Fuzzing found a 500: a non-object header crashed the normaliser instead of reaching
    validation, where it is an ordinary err.request.bad."""
    raw = {"header": header, "message": {"transaction_id": "", "search_request": []}}
    normalised = normalise_envelope(raw)
    assert normalised["header"] == header


def test_an_empty_string_under_an_opaque_key_is_kept() -> None:
    """Fuzzing found schema-valid searches refused with 400: C-EMPTY dropped an
    `attribute_value` of "" (a legitimate operand), which then failed `required`."""
    predicate = {"attribute_name": "given_name", "operator": "eq", "attribute_value": ""}
    raw = {"header": {}, "message": {"query": [{"expression1": predicate}], "death_date": ""}}
    normalised = normalise_envelope_report(raw)
    assert normalised.value["message"]["query"] == [{"expression1": predicate}]
    assert "death_date" not in normalised.value["message"]
    assert [r.rule for r in normalised.applied].count("C-EMPTY") == 1


def test_an_encrypted_message_is_left_as_signed() -> None:
    """Adding transaction_id/correlation_id to the ciphertext's members would break the signature
    of every encrypted message (encrypt, then sign: IBR-ENC-004)."""
    signing, enc = generate_signing_key("s-1"), generate_encryption_key("e-1")
    env = build_callback(
        action="on-search",
        message={"transaction_id": "t-1", "correlation_id": "c-1", "search_response": []},
        status="succ",
        sender_id="IBR",
        receiver_id="sp",
    )
    env["message"] = encrypt_message(env["message"], public_jwk(enc))
    env["header"]["is_msg_encrypted"] = True
    signed = sign_envelope(env, signing)
    normalised = normalise_envelope(signed)
    assert normalised["message"] == signed["message"]
    verify_envelope(normalised, {"s-1": public_jwk(signing)}.get)


def test_a_body_of_a_shape_no_dci_variant_has_is_a_normalisation_error() -> None:
    """If this fails, every receiver must guard the normaliser itself or answer 500."""
    env = {
        "header": {"message_id": "m", "action": "on-search", "status": "succ"},
        "message": {"transaction_id": "t", "search_response": [{"data": {"reg_records": True}}]},
    }
    with pytest.raises(NormalisationError, match="shape no DCI variant has"):
        normalise_envelope(env)


@pytest.mark.parametrize("results", ["search_response", "subscribe_response", "enrolled_response"])
def test_an_empty_txn_status_is_no_status_yet(results: str) -> None:
    """If this fails, a txn-on-status that DCI's schema allows (OpenSPP's kit sends
    `search_response: []`) is refused by our receivers: an empty result list means the
    transaction has no result yet, and becomes an absent txn_status (C-TXN-STATUS-EMPTY)."""
    txn_type = {"search_response": "search", "subscribe_response": "subscribe"}.get(
        results, "receipt"
    )
    status = {"transaction_id": "t-0", "correlation_id": "c-0", results: []}
    message = {
        "transaction_id": "t-1",
        "correlation_id": "c-1",
        "txnstatus_response": {"txn_type": txn_type, "txn_status": status},
    }
    raw = build_callback(
        action="txn-on-status", message=message, status="succ", sender_id="IBR", receiver_id="sp"
    )
    result = normalise_envelope_report(raw)
    assert "C-TXN-STATUS-EMPTY" in {applied.rule for applied in result.applied}
    assert result.value["message"]["txnstatus_response"] == {"txn_type": txn_type}
    validate(result.value, "api/envelope_txn_status_response")
    kept = copy.deepcopy(raw)
    kept["message"]["txnstatus_response"]["txn_status"][results] = [
        {"reference_id": "1", "timestamp": "2026-01-01T00:00:00Z", "status": "pdng"}
    ]
    assert normalise_envelope(kept)["message"] == kept["message"]


def _notify(data: dict[str, object]) -> dict[str, object]:
    message = {
        "transaction_id": "t-1",
        "notify_event": [
            {"reference_id": "e-1", "timestamp": "2026-01-01T00:00:00Z", "data": data}
        ],
    }
    return build_callback(
        action="notify", message=message, status="succ", sender_id="IBR", receiver_id="sp"
    )


@pytest.mark.parametrize("spelling", ["Person", "person", "Individual"])
def test_a_person_record_type_in_notify_is_member(spelling: str) -> None:
    """If this fails, a notify that DCI's schema allows (OpenSPP's kit sends
    `reg_record_type: "Person"`) is refused: DCI's person spellings mean our `Member`
    (C-NOTIFY-RECORD-TYPE, DEV-API-10)."""
    raw = _notify({"reg_event_type": "deregister", "reg_record_type": spelling, "reg_records": []})
    result = normalise_envelope_report(raw)
    assert "C-NOTIFY-RECORD-TYPE" in {applied.rule for applied in result.applied}
    # Only the record type changes; the empty event is then dropped (next rule).
    assert result.value["message"]["notify_event"] == []


@pytest.mark.parametrize(
    "data",
    [
        {"version": "1.0.0", "reg_record_type": "Person", "reg_records": {}},
        {"reg_event_type": "deregister", "reg_record_type": "Beneficiary", "reg_records": []},
        {"reg_record_type": "Member"},
    ],
)
def test_a_notify_event_without_records_is_dropped(data: dict[str, object]) -> None:
    """If this fails, a DCI-valid notify event with no record (OpenSPP's kit: no
    reg_event_type, `reg_records: {}`) is refused or, worse, applied: it has nothing to act
    on, so it is dropped and logged (C-NOTIFY-NO-RECORDS); a receiver acknowledges a notify
    left with no event and applies nothing."""
    result = normalise_envelope_report(_notify(data))
    assert "C-NOTIFY-NO-RECORDS" in {applied.rule for applied in result.applied}
    assert result.value["message"]["notify_event"] == []


def test_a_notify_event_with_records_but_no_event_type_is_still_refused() -> None:
    """If this fails, a subscriber would be handed records without knowing what happened to
    them: an event with records keeps needing reg_event_type (DEV-API-10)."""
    record = {"beneficiary_id": "b-1"}
    result = normalise_envelope_report(
        _notify({"reg_record_type": "Person", "reg_records": [record]})
    )
    assert "C-NOTIFY-NO-RECORDS" not in {applied.rule for applied in result.applied}
    assert len(result.value["message"]["notify_event"]) == 1
    with pytest.raises(SchemaValidationError):
        validate(result.value, "api/envelope_notify_event_request")
