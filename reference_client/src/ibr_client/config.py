"""Configuration of the reference SP-MIS: a TOML file, then ``IBR_CLIENT_*`` environment variables.

Later sources win: defaults < file < environment < explicit overrides (command-line options).
Every problem is reported as a :class:`~ibr_client.errors.ConfigError` naming the setting.

Example ``ibr-client.toml``::

    ibr_url = "https://ibr.example.gov/api"
    client_id = "pension-mis"
    client_secret = "..."              # or IBR_CLIENT_CLIENT_SECRET
    sender_id = "pension-mis"
    signing_key_file = "keys/pension-mis.private.jwk.json"
    callback_url = "https://pension-mis.example.gov/ibr-callbacks"
    ibr_client_secret = "..."          # the IBR's secret at our token endpoint, or
                                       # IBR_CLIENT_IBR_CLIENT_SECRET
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from ibr_client.errors import ConfigError

__all__ = ["ENV_PREFIX", "ClientConfig", "load_config", "load_jwk"]

ENV_PREFIX = "IBR_CLIENT_"


class ClientConfig(BaseModel):
    """Everything the SDK, the receiver and the command line need to talk to one IBR."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ibr_url: str = Field(description="Base URL of the IBR; /registry/... paths are appended.")
    client_id: str = Field(min_length=1, description="OAuth2 client id registered at the IBR.")
    client_secret: SecretStr = Field(description="OAuth2 client secret.")
    sender_id: str = Field(min_length=1, max_length=99, description="Our header.sender_id.")
    receiver_id: str = Field(
        default="IBR", min_length=1, max_length=99, description="The IBR's header.receiver_id."
    )
    token_url: str | None = Field(
        default=None, description="OAuth2 token endpoint; default <ibr_url>/oauth2/client/token."
    )
    jwks_url: str | None = Field(
        default=None, description="IBR public keys; default <ibr_url>/.well-known/jwks.json."
    )
    ibr_jwks_file: Path | None = Field(
        default=None, description="Local copy of the IBR's JWKS, used instead of jwks_url."
    )
    signing_key_file: Path | None = Field(
        default=None, description="Our private Ed25519 JWK (JSON) used to sign every request."
    )
    sign_requests: bool = Field(default=True, description="Sign outgoing envelopes.")
    signature_profile: Literal["jws", "dci"] = Field(
        default="jws",
        description="How requests are signed: jws (detached JWS, security profile 3) or dci "
        "(DCI's Signature string, 3b, as OpenSPP 2 sends it).",
    )
    verify_callbacks: bool = Field(default=True, description="Verify signatures of callbacks.")
    callback_signature: Literal["required", "optional"] = Field(
        default="required",
        description="required: a callback without a signature is refused; optional (a test "
        "peer that cannot sign): no signature or a DCI placeholder is accepted and logged, a "
        "real one is still verified.",
    )
    encrypt_requests: bool = Field(default=False, description="Encrypt outgoing messages.")
    ibr_encryption_key_file: Path | None = Field(
        default=None, description="The IBR's public encryption JWK (needed to encrypt)."
    )
    decryption_key_file: Path | None = Field(
        default=None, description="Our private encryption JWK (to read encrypted callbacks)."
    )
    callback_url: str | None = Field(
        default=None,
        description="Public base URL of our receiver; sender_uri = this + callback path.",
    )
    ibr_client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=99,
        description="The IBR's client id at our token endpoint; default receiver_id.",
    )
    ibr_client_secret: SecretStr | None = Field(
        default=None,
        description="The IBR's client secret at our token endpoint; without it every callback "
        "is refused.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest accepted callback body, in bytes."
    )
    max_json_depth: int = Field(
        default=32, ge=4, description="Deepest accepted nesting of arrays/objects in a callback."
    )
    callback_window_seconds: int = Field(
        default=300,
        ge=30,
        le=900,
        description="Accept a callback only if its header.message_ts is this close to our clock.",
    )
    listen_host: str = Field(default="127.0.0.1", description="Receiver bind address.")
    listen_port: int = Field(default=8700, ge=0, le=65535, description="Receiver port (0: any).")
    state_dir: Path = Field(
        default=Path(".ibr-client"), description="Where the receiver store and checkpoints live."
    )
    timeout: float = Field(default=30.0, gt=0, description="HTTP timeout in seconds.")
    retries: int = Field(default=3, ge=0, le=20, description="Retries on transport failures.")
    backoff: float = Field(default=0.5, ge=0, description="First retry delay; doubles each time.")
    batch_size: int = Field(default=100, ge=1, le=10_000, description="Records per publish.")

    @field_validator("ibr_url", "token_url", "jwks_url", "callback_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL, e.g. https://ibr.example.gov")
        return value.rstrip("/")

    @property
    def effective_token_url(self) -> str:
        return self.token_url or f"{self.ibr_url}/oauth2/client/token"

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or f"{self.ibr_url}/.well-known/jwks.json"

    @property
    def effective_ibr_client_id(self) -> str:
        """Who may get tokens for our callbacks: the IBR, by default under its receiver_id."""
        return self.ibr_client_id or self.receiver_id

    @property
    def token_key_path(self) -> Path:
        """Our private key for signing the IBR's access tokens (created on first start)."""
        return self.state_dir / "token-signing.jwk.json"

    @property
    def store_path(self) -> Path:
        return self.state_dir / "ibr-client.sqlite3"

    def signing_key(self) -> dict[str, Any] | None:
        """Our private signing JWK, or None when signing is off."""
        if not self.sign_requests:
            return None
        if self.signing_key_file is None:
            raise ConfigError(
                "signing_key_file",
                "required when sign_requests is on; create one with `ibr-client keys generate`",
            )
        return load_jwk(self.signing_key_file, "signing_key_file")


def load_jwk(path: Path, setting: str) -> dict[str, Any]:
    """Read a JSON Web Key (or a JWKS) from ``path``; errors name ``setting``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(setting, f"file {path} does not exist") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(setting, f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, dict) or not ("kty" in data or "keys" in data):
        raise ConfigError(setting, f"{path} is not a JSON Web Key (no 'kty') nor a JWKS")
    return data


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ClientConfig:
    """Build the configuration from a TOML file, the environment and explicit overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read_toml(path))
    environ = os.environ if env is None else env
    for name in ClientConfig.model_fields:
        env_value = environ.get(ENV_PREFIX + name.upper())
        if env_value is not None and env_value != "":
            values[name] = env_value
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return ClientConfig.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key usually also causes a "missing": report the misspelling.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        setting = ".".join(str(part) for part in first["loc"]) or "config"
        if first["type"] == "missing":
            problem = f"is required; set it in the config file or as {ENV_PREFIX}{setting.upper()}"
        elif first["type"] == "extra_forbidden":
            valid = ", ".join(sorted(ClientConfig.model_fields))
            problem = f"is not a known setting; valid settings: {valid}"
        else:
            problem = first["msg"]
        raise ConfigError(setting, problem) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("config file", f"{path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("config file", f"cannot read {path} as TOML: {exc}") from None
