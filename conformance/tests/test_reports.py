"""Reports (JSON, JUnit, HTML), certificate and badge, from a synthetic run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from joserfc.jwk import OKPKey

from ibr_conformance.certificate import issue_certificate, verify_certificate
from ibr_conformance.errors import CertificateError
from ibr_conformance.events import RunFinished, RunInfo
from ibr_conformance.phases import Phase
from ibr_conformance.reporters import HtmlReporter, JsonReporter, JunitReporter, report_document
from ibr_conformance.reporters.html import render_html
from ibr_conformance.requirements import Level, Requirement, RequirementCatalogue
from ibr_conformance.results import CheckResult, Exchange, Failure, Outcome
from ibr_protocol import generate_signing_key, public_jwk

from .browser import screenshot

CATALOGUE = RequirementCatalogue(
    [
        Requirement("R-MUST", Level.MUST, "must hold", ("ibr",)),
        Requirement("R-SHOULD", Level.SHOULD, "should hold", ("ibr",)),
        Requirement("R-UNTESTED", Level.MUST, "nobody checks", ("ibr",)),
    ]
)


def _exchange() -> Exchange:
    return Exchange.build(
        method="POST",
        url="http://127.0.0.1:1/registry/sync/search",
        request_headers={"authorization": "Bearer SECRET-TOKEN"},
        request_body={"header": {}, "message": {}},
        status=200,
        response_headers={},
        response_body={"message": {"ack_status": "ACK", "error": None}},
    )


def _final(*, failing: bool) -> RunFinished:
    info = RunInfo(
        "run-1",
        "ibr",
        "http://127.0.0.1:1",
        7,
        "0.1.0",
        "1.0.0-ibr.1",
        "ab" * 32,
        "2024-05-01T00:00:00+00:00",
    )
    failures = (
        [Failure("ACK breaks the ACK rules", "error is null", ("R-MUST",), (_exchange(),))]
        if failing
        else []
    )
    results = (
        CheckResult(
            "ack_check",
            "ACK",
            Phase.ENVELOPE,
            ("R-MUST",),
            {"R-MUST": Level.MUST},
            Outcome.FAIL if failing else Outcome.PASS,
            failures,
        ),
        CheckResult(
            "should_check",
            "S",
            Phase.SECURITY,
            ("R-SHOULD",),
            {"R-SHOULD": Level.SHOULD},
            Outcome.WARN,
            [Failure("t", "m", ("R-SHOULD",))],
        ),
        CheckResult(
            "skipped",
            "K",
            Phase.SCENARIOS,
            ("R-SHOULD",),
            {"R-SHOULD": Level.SHOULD},
            Outcome.SKIP,
            reason="capability 'subscriptions' not claimed",
        ),
    )
    return RunFinished(info, results, "2024-05-01T00:01:00+00:00", 60_000.0)


def _write_all(final: RunFinished, out: Path) -> None:
    for reporter in (
        JsonReporter(out / "report.json", CATALOGUE),
        JunitReporter(out / "junit.xml"),
        HtmlReporter(out / "report.html", CATALOGUE),
    ):
        reporter.handle(final)


def test_reports_carry_reproducibility_facts_and_per_requirement_outcomes(tmp_path: Path) -> None:
    """If this fails, a certifier cannot tell which requirement failed or reproduce the run."""
    _write_all(_final(failing=True), tmp_path)
    doc = json.loads((tmp_path / "report.json").read_text())
    assert {k: doc[k] for k in ("seed", "suite_version", "spec_version", "target")} == {
        "seed": 7,
        "suite_version": "0.1.0",
        "spec_version": "1.0.0-ibr.1",
        "target": "http://127.0.0.1:1",
    }
    assert {r["id"]: r["outcome"] for r in doc["requirements"]} == {
        "R-MUST": "fail",
        "R-SHOULD": "warn",
        "R-UNTESTED": "not-tested",
    }
    assert doc["conformant"] is False
    suites = ET.parse(tmp_path / "junit.xml").getroot()  # noqa: S314 - our own file
    failures = [f.get("message") for f in suites.iter("failure")]
    assert failures == ["[R-MUST] ACK breaks the ACK rules"]
    assert [s.get("message") for s in suites.iter("skipped")] == [
        "capability 'subscriptions' not claimed"
    ]
    html = (tmp_path / "report.html").read_text()
    assert "NOT CONFORMANT" in html
    assert "R-MUST" in html
    assert "error is null" in html


def test_secrets_never_reach_any_report(tmp_path: Path) -> None:
    """If this fails, the bearer token used against a vendor system leaks into shared reports."""
    _write_all(_final(failing=True), tmp_path)
    for name in ("report.json", "junit.xml", "report.html"):
        assert "SECRET-TOKEN" not in (tmp_path / name).read_text(), name


def test_certificate_issued_only_when_conformant_and_verifies(tmp_path: Path) -> None:
    """If this fails, a failing system gets a certificate, or a tampered certificate verifies."""
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "issuer-1"}, private=True)
    private, public = key.as_dict(private=True), key.as_dict(private=False)
    with pytest.raises(CertificateError, match="no certificate"):
        issue_certificate(report_document(_final(failing=True), CATALOGUE), private, tmp_path)
    path = issue_certificate(report_document(_final(failing=False), CATALOGUE), private, tmp_path)
    token = path.read_text().strip()
    claims = verify_certificate(token, {"keys": [public]})
    assert claims["run_id"] == "run-1"
    assert claims["spec_hash"] == "ab" * 32
    assert "<svg" in (tmp_path / "badge.svg").read_text()
    head, payload, sig = token.split(".")
    with pytest.raises(CertificateError):
        verify_certificate(f"{head}.{payload}.{sig[:-4]}AAAA", {"keys": [public]})


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    """If this fails, the HTML report a person reads does not render in a real browser."""
    _write_all(_final(failing=True), tmp_path)
    assert (
        screenshot(tmp_path / "report.html", tmp_path / "report.png", width=1200, height=900)
        > 5_000
    )


def _complete_final() -> RunFinished:
    """A run of every phase where every MUST of a smaller catalogue was tested and held."""
    final = _final(failing=False)
    info = RunInfo(**{**final.info.__dict__, "config": {"phases": [p.value for p in Phase]}})
    return RunFinished(info, final.results, final.finished_at, final.duration_ms)


_COMPLETE_CATALOGUE = RequirementCatalogue(
    [
        Requirement("R-MUST", Level.MUST, "must hold", ("ibr",)),
        Requirement("R-SHOULD", Level.SHOULD, "should hold", ("ibr",)),
    ]
)


def test_a_run_with_an_untested_must_gets_a_partial_certificate_and_grey_badge(
    tmp_path: Path,
) -> None:
    """If this fails, a run of one phase (MUSTs untested) prints CONFORMANT and earns a green
    badge whose must_skipped is empty."""
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "issuer-1"}, private=True)
    doc = report_document(_final(failing=False), CATALOGUE)
    assert doc["completeness"]["complete"] is False
    assert doc["completeness"]["untested_musts"] == ["R-UNTESTED"]
    path = issue_certificate(doc, key.as_dict(private=True), tmp_path)
    claims = verify_certificate(path.read_text().strip(), {"keys": [key.as_dict(private=False)]})
    assert claims["status"] == "partial"
    assert claims["must_untested"] == ["R-UNTESTED"]
    badge = (tmp_path / "badge.svg").read_text()
    assert "partial" in badge
    assert "#1a7f37" not in badge  # not green
    html = render_html(doc)
    assert "PARTIAL RUN" in html
    assert ">CONFORMANT" not in html


def test_a_complete_run_gets_a_complete_certificate_and_green_badge(tmp_path: Path) -> None:
    """If this fails, even a complete, passing run cannot be certified."""
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "issuer-1"}, private=True)
    doc = report_document(_complete_final(), _COMPLETE_CATALOGUE)
    assert doc["completeness"] == {
        "complete": True,
        "untested_musts": [],
        "phases_left_out": [],
        "checks_selected": False,
    }
    path = issue_certificate(doc, key.as_dict(private=True), tmp_path)
    claims = verify_certificate(path.read_text().strip(), {"keys": [key.as_dict(private=False)]})
    assert (claims["status"], claims["must_untested"]) == ("complete", [])
    assert "#1a7f37" in (tmp_path / "badge.svg").read_text()
    assert "CONFORMANT: every MUST was tested and holds" in render_html(doc)


def test_a_run_of_selected_phases_is_partial_whatever_its_musts() -> None:
    """If this fails, leaving the fuzzing phase out still yields a complete verdict."""
    final = _complete_final()
    info = RunInfo(**{**final.info.__dict__, "config": {"phases": ["envelope"]}})
    doc = report_document(
        RunFinished(info, final.results, final.finished_at, final.duration_ms), _COMPLETE_CATALOGUE
    )
    assert doc["completeness"]["phases_left_out"] == ["security", "fuzzing", "scenarios"]
    assert doc["completeness"]["complete"] is False


def test_the_certificate_key_may_be_one_the_project_generates(tmp_path: Path) -> None:
    """If this fails, --certificate-key crashes (UnsupportedKeyAlgorithmError) on a key made by
    the project's own generator, which marks it "alg": "EdDSA"."""
    private = generate_signing_key("issuer-2")
    assert private.get("alg") == "EdDSA"
    path = issue_certificate(report_document(_complete_final(), CATALOGUE), private, tmp_path)
    claims = verify_certificate(path.read_text().strip(), {"keys": [public_jwk(private)]})
    assert claims["run_id"] == "run-1"
    with pytest.raises(CertificateError, match="Ed25519 private JWK"):
        issue_certificate(
            report_document(_complete_final(), CATALOGUE), public_jwk(private), tmp_path
        )


def test_headline_and_table_count_the_same_requirements(tmp_path: Path) -> None:
    """If this fails, the report's headline counts checks while its table counts requirements."""
    doc = report_document(_final(failing=True), CATALOGUE)
    table = [r["outcome"] for r in doc["requirements"] if r["level"] == "MUST"]
    assert doc["must_summary"] == {"fail": table.count("fail"), "not-tested": 1}
    html = render_html(doc)
    assert "MUST requirements (the table below): " in html
    assert '<span class="fail">fail: 1</span>' in html
