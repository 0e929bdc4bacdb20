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


def _claims(report: dict[str, Any]) -> dict[str, Any]:
    musts = [r for r in report["requirements"] if r["level"] == "MUST"]
    issued = datetime.now(UTC)
    return {
        "typ": "ibr-conformance-certificate/1",
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
        "summary": report["summary"],
        "iat": int(issued.timestamp()),
        "exp": int((issued + _VALIDITY).timestamp()),
    }


def issue_certificate(
    report: dict[str, Any], issuer_private_jwk: dict[str, Any], out: Path
) -> Path:
    """Write certificate.jws and badge.svg into `out`; refuses when any MUST failed."""
    if not report["conformant"]:
        raise CertificateError("the run has failing or erroring checks; no certificate is issued")
    key = OKPKey.import_key(issuer_private_jwk)
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


def verify_certificate(token: str, issuer_jwks: dict[str, Any]) -> dict[str, Any]:
    """The certificate's claims if its signature verifies and it has not expired."""
    try:
        keys = KeySet.import_key_set(issuer_jwks)  # type: ignore[arg-type]
        obj = jws.deserialize_compact(token, keys, algorithms=[_ALG])
        claims: dict[str, Any] = json.loads(obj.payload)
    except (JoseError, ValueError) as exc:
        raise CertificateError(f"certificate signature does not verify: {exc}") from exc
    if claims.get("exp", 0) < datetime.now(UTC).timestamp():
        raise CertificateError("certificate has expired")
    return claims


def badge_svg(claims: dict[str, Any]) -> str:
    label, value = "DCI IBR conformance", f"{claims['profile']} {claims['spec_version']}"
    lw, vw = 8 * len(label) + 10, 7 * len(value) + 14
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + vw}" height="20" role="img" '
        f'aria-label="{escape(label)}: {escape(value)}"><title>{escape(label)}: {escape(value)} '
        f"(run {escape(claims['run_id'])})</title>"
        f'<rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="#1a7f37"/>'
        f'<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
        f'<text x="6" y="14">{escape(label)}</text>'
        f'<text x="{lw + 6}" y="14">{escape(value)}</text></g></svg>'
    )
