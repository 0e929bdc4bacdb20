"""Errors of the conformance suite itself (never failures of the system under test).

    ConformanceError        base
    ├── ConfigError         a setting is missing or invalid; names the setting and the choices
    ├── CatalogueError      spec/requirements.yaml is missing or malformed
    ├── HarnessError        the suite could not do its job (target unreachable, bad response)
    └── CertificateError    a certificate or badge cannot be issued or does not verify

A failure of the system under test is a `Failure` value (see `results`), not an exception.
"""

from __future__ import annotations

__all__ = ["CatalogueError", "CertificateError", "ConfigError", "ConformanceError", "HarnessError"]


class ConformanceError(Exception):
    """Base of every error the suite raises about itself."""


class ConfigError(ConformanceError):
    """A setting is missing or has an invalid value."""


class CatalogueError(ConformanceError):
    """The requirement catalogue cannot be read or breaks its own format."""


class HarnessError(ConformanceError):
    """The harness could not run a check (e.g. connection refused); reported as `error`."""


class CertificateError(ConformanceError):
    """A certificate cannot be issued, or a presented certificate does not verify."""
