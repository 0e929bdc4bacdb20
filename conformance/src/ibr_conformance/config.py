"""Run configuration from a file, `IBR_CONFORMANCE_*` environment variables and CLI flags.

Precedence: flags > environment > file > defaults. The file is YAML or TOML with the same keys
as the fields below (e.g. `base_url: http://127.0.0.1:8000`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ibr_conformance.errors import ConfigError
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile

__all__ = ["RunConfig", "load_config"]

_SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "token",
        "signing_key",
        "certificate_key",
        "mock_client_secret",
        "callback_client_secret",
    }
)


class RunConfig(BaseSettings):
    """Everything a run needs to reach the target; each field is `IBR_CONFORMANCE_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="IBR_CONFORMANCE_", extra="forbid", frozen=True)

    profile: Profile = Field(default=Profile.IBR, description="ibr or sp-mis")
    base_url: str = Field(default="", description="Scheme, host and port of the system under test")
    base_path: str = Field(default="", description="Prefix of every route, e.g. /dci")
    registry_prefix: str = Field(
        default="/registry", description="Prefix of the registry operations (DCI: /registry)"
    )
    token_url: str = Field(
        default="", description="OAuth2 token endpoint; default <base>/oauth2/client/token"
    )
    client_id: str = Field(
        default="",
        description="OAuth2 client id (client credentials); sp-mis profile: the IBR's client id "
        "at the SP-MIS's token endpoint, default ibr_id",
    )
    client_secret: str = Field(default="", description="OAuth2 client secret")
    second_client_id: str = Field(
        default="", description="A second client of another programme (isolation checks)"
    )
    second_client_secret: str = Field(default="", description="Secret of the second client")
    limited_client_id: str = Field(
        default="", description="A client lacking the scopes of the tested operations"
    )
    limited_client_secret: str = Field(default="", description="Secret of the limited client")
    optional_signature_client_id: str = Field(
        default="",
        description="A client registered with signature policy optional (IBR-SIG-016)",
    )
    optional_signature_client_secret: str = Field(
        default="", description="Secret of the optional-signature client"
    )
    token: str = Field(default="", description="Fixed bearer token (instead of client credentials)")
    scope: str = Field(default="", description="Scope to request with client credentials")
    sender_id: str = Field(
        default="", description="header.sender_id we send (default: client_id, the token subject)"
    )
    receiver_id: str = Field(default="IBR", description="header.receiver_id we send")
    ibr_id: str = Field(
        default="IBR",
        description="sp-mis profile: the sender_id the suite uses when it acts as the IBR",
    )
    signing_key: str = Field(
        default="", description="Path to our private Ed25519 JWK (JSON); signs every request"
    )
    target_jwks_url: str = Field(
        default="",
        description="Where the target publishes its JWKS; default <base>/.well-known/jwks.json",
    )
    require_signed_responses: bool = Field(
        default=False, description="The target claims it signs responses and callbacks"
    )
    extra_headers: dict[str, str] = Field(default_factory=dict, description="Sent on every request")
    callback_host: str = Field(default="127.0.0.1", description="Callback receiver bind address")
    callback_port: int = Field(default=0, ge=0, le=65535, description="0 = a free port")
    callback_public_url: str = Field(
        default="", description="URL the target reaches the receiver at (default: bound address)"
    )
    callback_client_id: str = Field(
        default="",
        description="ibr profile: client id the IBR uses at the receiver's token endpoint "
        "(default: receiver_id, the IBR's id)",
    )
    callback_client_secret: str = Field(
        default="",
        description="ibr profile: its secret; set, the receiver issues tokens and the suite "
        "checks that callbacks carry one (IBR-SEC-004)",
    )
    callback_timeout: float = Field(
        default=15.0, gt=0, description="Seconds to wait for a callback"
    )
    timeout: float = Field(default=15.0, gt=0, description="HTTP timeout in seconds")
    seed: int = Field(default=20240501, description="Seed of every random choice (fuzzing too)")
    capabilities: tuple[str, ...] = Field(
        default=(
            "sync",
            "async",
            "subscriptions",
            "txn-status",
            "signing",
            "encryption",
            "callback-auth",
        ),
        description="Capabilities the target claims; checks of others are skipped",
    )
    phases: tuple[Phase, ...] = Field(default=tuple(Phase), description="Phases to run")
    checks: tuple[str, ...] = Field(default=(), description="Only these checks (default: all)")
    fuzz_max_examples: int = Field(default=8, ge=1, description="Examples per fuzzed operation")
    fuzz_operations: tuple[str, ...] = Field(
        default=(), description="Only fuzz these operations, e.g. txn/status (default: all)"
    )
    max_body_bytes: int = Field(
        default=11 * 1024 * 1024, ge=1024, description="Size of the oversized-body probe"
    )
    programme: str = Field(
        default="CONF-PROG", description="A programme the client may report enrolments for"
    )
    foreign_programme: str = Field(
        default="", description="A programme the client may NOT report for (IBR-UPDATES-004)"
    )
    second_programme: str = Field(
        default="",
        description="A programme the second client reports for (registry checks: one person "
        "in two programmes, IBR-REG-006/007)",
    )
    trigger_url: str = Field(
        default="", description="sp-mis profile: the SP-MIS trigger API that makes it call an IBR"
    )
    sp_mis_jwks: str = Field(
        default="",
        description="sp-mis: URL or file of the public JWKS of the SP-MIS (verifies its requests)",
    )
    mock_ibr_host: str = Field(default="127.0.0.1", description="sp-mis: mock IBR bind address")
    mock_ibr_port: int = Field(
        default=0, ge=0, le=65535, description="sp-mis: mock IBR port (the SP-MIS's ibr_url)"
    )
    mock_client_id: str = Field(
        default="", description="sp-mis: client id the mock IBR accepts at its token endpoint"
    )
    mock_client_secret: str = Field(default="", description="sp-mis: that client's secret")
    requirements_file: str = Field(default="", description="Default: spec/requirements.yaml")
    output_dir: str = Field(default="conformance-report", description="Where reports are written")

    @field_validator("base_url", "callback_public_url", "token_url", "trigger_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("base_path", "registry_prefix")
    @classmethod
    def _leading_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        return value if not value or value.startswith("/") else "/" + value

    def effective_sender_id(self) -> str:
        """The token subject must equal header.sender_id (IBR-SEC-005), so default to client_id.

        sp-mis profile: the SP-MIS's id (its client id at the mock IBR); client_id there is
        the suite's own id, as the IBR, at the SP-MIS's token endpoint.
        """
        if self.profile is Profile.SP_MIS:
            return self.sender_id or self.mock_client_id or "conformance-sp-mis"
        return self.sender_id or self.client_id or "conformance-suite"

    def effective_client_id(self) -> str:
        """Who the suite is at the target's token endpoint (sp-mis profile: the IBR)."""
        if self.profile is Profile.SP_MIS:
            return self.client_id or self.ibr_id
        return self.client_id

    def effective_callback_client_id(self) -> str:
        """Who the IBR is at the callback receiver's token endpoint (ibr profile)."""
        return self.callback_client_id or self.receiver_id

    def root_url(self) -> str:
        return self.base_url + self.base_path

    def operation_url(self, operation: str) -> str:
        """URL of a registry operation, e.g. `sync/search` -> <base><path>/registry/sync/search."""
        return f"{self.root_url()}{self.registry_prefix}/{operation.lstrip('/')}"

    def public_view(self) -> dict[str, Any]:
        """The configuration with secrets replaced, for reports."""
        data = self.model_dump(mode="json")
        for key in _SECRET_FIELDS | {
            "second_client_secret",
            "limited_client_secret",
            "optional_signature_client_secret",
        }:
            if data.get(key):
                data[key] = "***redacted***"
        return data


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path} cannot be parsed: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return data


def load_config(
    *, file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> RunConfig:
    """Merge file, environment and flag overrides; raises `ConfigError` naming the bad setting."""
    file_values = _read_file(file) if file else {}
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    # Environment beats the file: read the env-only settings, then lay flags on top.
    env_only = RunConfig()
    env_set = {
        name: getattr(env_only, name)
        for name in RunConfig.model_fields
        if name in env_only.model_fields_set
    }
    merged = {**file_values, **env_set, **flags}
    try:
        config = RunConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
    if not config.base_url:
        raise ConfigError("base_url is required (flag --base-url or IBR_CONFORMANCE_BASE_URL)")
    return config
