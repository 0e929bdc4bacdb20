"""Conformance certificate (compact JWS over the run's facts) and an SVG badge."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from ibr_conformance.errors import CertificateError

__all__ = ["badge_svg", "issue_certificate", "verify_certificate"]

_ALG = "Ed25519"  # RFC 9864 name; joserfc warns on the legacy "EdDSA"
_VALIDITY = timedelta(days=365)


_UNTESTED = ("skip", "error", "not-tested")


def _claims(report: dict[str, Any]) -> dict[str, Any]:
    musts = [r for r in report["requirements"] if r["level"] == "MUST"]
    issued = datetime.now(UTC)
    scope = report.get("completeness") or {}
    untested = sorted(r["id"] for r in musts if r["outcome"] in _UNTESTED)
    complete = bool(scope.get("complete")) and not untested
    return {
        "typ": "ibr-conformance-certificate/1",
        "status": "complete" if complete else "partial",
        "must_untested": untested,
        "phases_left_out": list(scope.get("phases_left_out", [])),
        "profile": report["profile"],
        "target": report["target"],
        "run_id": report["run_id"],
        "seed": report["seed"],
        "suite_version": report["suite_version"],
        "spec_version": report["spec_version"],
        "spec_hash": report["spec_hash"],
        "capabilities": report["capabilities"],
        "must_passed": sorted(r["id"] for r in musts if r["outcome"] == "pass"),
        "must_skipped": sorted(r["id"] for r in musts if r["outcome"] == "skip"),
        "must_manual": sorted(r["id"] for r in musts if r["outcome"] in ("manual", "not-testable")),
        "summary": report["summary"],
        "iat": int(issued.timestamp()),
        "exp": int((issued + _VALIDITY).timestamp()),
    }


def issue_certificate(
    report: dict[str, Any], issuer_private_jwk: dict[str, Any], out: Path
) -> Path:
    """Write certificate.jws and badge.svg into `out`; refuses when any MUST failed.

    A run that left a MUST untested (a phase not run, a check skipped for a capability not
    claimed, no check at all) gets a certificate whose ``status`` is ``partial`` and lists them
    (``must_untested``); its badge is grey, not green.
    """
    if not report["conformant"]:
        raise CertificateError("the run has failing or erroring checks; no certificate is issued")
    key = _signing_key(issuer_private_jwk)
    header = {"alg": _ALG, "kid": issuer_private_jwk.get("kid", "issuer"), "typ": "JOSE"}
    claims = _claims(report)
    token = jws.serialize_compact(
        header, json.dumps(claims, sort_keys=True).encode(), key, algorithms=[_ALG]
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "certificate.jws"
    path.write_text(token + "\n", encoding="utf-8")
    (out / "badge.svg").write_text(badge_svg(claims), encoding="utf-8")
    return path


def _signing_key(jwk: dict[str, Any]) -> OKPKey:
    # The project's key generator marks its keys "alg": "EdDSA" (the JOSE name before RFC 9864);
    # the same key signs under the new name, so the marker is dropped, not the key refused.
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "d" not in jwk:
        raise CertificateError(
            "the certificate key must be an Ed25519 private JWK (kty OKP, crv Ed25519, with d), "
            "e.g. one made by `ibr-client keys generate`"
        )
    try:
        return OKPKey.import_key({k: v for k, v in jwk.items() if k != "alg"})
    except (JoseError, ValueError) as exc:
        raise CertificateError(f"the certificate key cannot be read: {exc}") from exc


def verify_certificate(token: str, issuer_jwks: dict[str, Any]) -> dict[str, Any]:
    """The certificate's claims if its signature verifies and it has not expired."""
    try:
        # An "alg": "EdDSA" marker (the project's keys) would hide the key from Ed25519 tokens.
        stripped = [{k: v for k, v in key.items() if k != "alg"} for key in issuer_jwks["keys"]]
        keys = KeySet.import_key_set({"keys": stripped})
        obj = jws.deserialize_compact(token, keys, algorithms=[_ALG])
        claims: dict[str, Any] = json.loads(obj.payload)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise CertificateError(f"certificate signature does not verify: {exc}") from exc
    if claims.get("exp", 0) < datetime.now(UTC).timestamp():
        raise CertificateError("certificate has expired")
    return claims


def badge_svg(claims: dict[str, Any]) -> str:
    label, value = "DCI IBR conformance", f"{claims['profile']} {claims['spec_version']}"
    partial = claims.get("status") != "complete"
    if partial:
        value += f" partial ({len(claims.get('must_untested', []))} MUST untested)"
    lw, vw = 8 * len(label) + 10, 7 * len(value) + 14
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + vw}" height="20" role="img" '
        f'aria-label="{escape(label)}: {escape(value)}"><title>{escape(label)}: {escape(value)} '
        f"(run {escape(claims['run_id'])})</title>"
        f'<rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{"#9f9f9f" if partial else "#1a7f37"}"/>'
        f'<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
        f'<text x="6" y="14">{escape(label)}</text>'
        f'<text x="{lw + 6}" y="14">{escape(value)}</text></g></svg>'
    )
