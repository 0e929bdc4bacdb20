"""Settings of the standalone IBR host, read from ``IBR_*`` environment variables.

Every security switch defaults to the safe side; turning one off is logged at CRITICAL when the
app starts (see ``ibr_service.api.app``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ibr_service.core.batch_checks import BatchCheck
from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES, load_identifier_types
from ibr_service.core.settings import CoreSettings

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Configuration of the IBR host. Each field is the env variable ``IBR_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="IBR_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./data/ibr.db",
        description="SQLAlchemy URL (SQLite file by default; postgresql+psycopg://... in prod)",
    )
    db_pool_size: int = Field(
        default=16,
        ge=1,
        description="PostgreSQL connections each server process keeps open (about the requests "
        "it serves at once; times --workers, plus the outbox, must stay under max_connections)",
    )
    db_max_overflow: int = Field(
        default=24,
        ge=0,
        description="Extra PostgreSQL connections a process may open above db_pool_size at peaks "
        "(closed again when returned)",
    )
    base_path: str = Field(
        default="",
        description="Prefix under which every route is mounted, e.g. '/dci' ('' = at the root)",
    )
    receiver_id: str = Field(
        default="IBR", min_length=1, description="Our id: header.receiver_id of inbound requests"
    )
    strict_signatures: bool = Field(
        default=True,
        description="Reject unsigned requests. Off only for DCI samples and local trials",
    )
    timestamp_window_seconds: int = Field(
        default=300,
        ge=1,
        description="Largest accepted |now - header.message_ts| of signed requests",
    )
    token_lifetime_seconds: int = Field(
        default=900, ge=30, le=3600, description="Lifetime of issued access tokens"
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest accepted request body, in bytes"
    )
    max_json_depth: int = Field(
        default=32, ge=4, description="Deepest accepted nesting of arrays/objects in a JSON body"
    )
    run_outbox: bool = Field(
        default=True, description="Run the outbox dispatcher as a background task of the server"
    )
    outbox_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Longest pause between outbox polls while idle (from 20 ms, doubling)",
    )
    outbox_batch_size: int = Field(
        default=100, ge=1, description="Accepted async requests processed and jobs claimed per poll"
    )
    outbox_concurrency: int = Field(
        default=32, ge=1, description="Callbacks one dispatcher sends at once (its connection pool)"
    )
    outbox_max_attempts: int = Field(
        default=10, ge=1, description="Delivery attempts before a job is marked dead"
    )
    outbox_backoff_base_seconds: float = Field(
        default=1.0, gt=0, description="First retry delay; doubles each attempt (full jitter)"
    )
    outbox_backoff_cap_seconds: float = Field(
        default=600.0, gt=0, description="Largest retry delay"
    )
    outbox_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed job stays invisible to other dispatchers",
    )
    callback_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one callback POST"
    )
    rate_per_client: float = Field(
        default=50.0, ge=0, description="Requests per second per client (0 = no limit; per worker)"
    )
    burst_per_client: int = Field(default=200, ge=1, description="Burst size per client")
    rate_per_address: float = Field(
        default=100.0,
        ge=0,
        description="Requests per second per source address (0 = no limit; per worker)",
    )
    burst_per_address: int = Field(default=400, ge=1, description="Burst size per address")
    token_rate_per_address: float = Field(
        default=2.0,
        ge=0,
        description="Token requests per second per source address (each costs a scrypt hash)",
    )
    token_burst_per_address: int = Field(default=30, ge=1, description="Token request burst")
    token_failures_per_minute: float = Field(
        default=10.0,
        ge=0,
        description="Failed client authentications per minute per client id and per address",
    )

    identifier_types_file: str | None = Field(
        default=None,
        description="YAML/JSON identifier type registry (aliases, normalisation, check digits, "
        "rank); unset = the spec's types without check digits, so no national ID is checked. "
        "See core/identity.py; the mock countries' (Verhoeff national IDs, what `ibr demo` uses): "
        "ibr_mock_data.identifier_types_file()",
    )
    require_consent: bool = Field(
        default=False, description="Refuse searches that carry no consent (IBR-SEARCH-007)"
    )
    identity_birth_year_tolerance: int = Field(
        default=2, ge=0, description="Birth years further apart open an identity case"
    )
    future_date_tolerance_days: int = Field(
        default=1, ge=0, description="How far past today a reported date may lie"
    )
    overlap_check: bool = Field(
        default=True,
        description="Check every ingested batch for new cross-programme overlaps: cases opened, "
        "items noted succ.overlap.detected, never refused (IBR-REG-015; SQL store)",
    )
    coverage_rollups: bool = Field(
        default=True,
        description="Keep the coverage rollups (built by `ibr report rebuild-rollups`) up to "
        "date with every ingested batch (SQL store); off, they go stale and reports count ad hoc",
    )
    programme_rules_file: str | None = Field(
        default=None,
        description="YAML programme compatibility matrix for the overlap check; unset = the "
        "shipped rules (analytics/programme_rules.yaml)",
    )

    def engine_options(self) -> dict[str, int]:
        """SQLAlchemy engine options of the server's store (pool sizing on PostgreSQL)."""
        if not self.database_url.startswith("postgresql"):
            return {}
        return {"pool_size": self.db_pool_size, "max_overflow": self.db_max_overflow}

    def core_settings(self) -> CoreSettings:
        """The core's settings; raises ValueError naming a bad identifier types file."""
        types = DEFAULT_IDENTIFIER_TYPES
        if self.identifier_types_file:
            types = load_identifier_types(Path(self.identifier_types_file))
        return CoreSettings(
            receiver_id=self.receiver_id,
            identifier_types=types,
            require_consent=self.require_consent,
            identity_birth_year_tolerance=self.identity_birth_year_tolerance,
            future_date_tolerance_days=self.future_date_tolerance_days,
        )

    def batch_checks(self) -> list[BatchCheck]:
        """The checks of every ingested batch; raises ValueError naming a bad rules file."""
        checks: list[BatchCheck] = []
        if self.overlap_check:
            from ibr_service.analytics.cases import OverlapCheck
            from ibr_service.analytics.errors import AnalyticsError
            from ibr_service.analytics.rules import load_rules

            path = Path(self.programme_rules_file) if self.programme_rules_file else None
            try:
                checks.append(OverlapCheck(load_rules(path)))
            except AnalyticsError as exc:
                raise ValueError(f"IBR_PROGRAMME_RULES_FILE: {exc}") from None
        if self.coverage_rollups:
            from ibr_service.analytics.rollups import RollupUpdate

            checks.append(RollupUpdate())
        return checks

    @field_validator("base_path")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError("base_path must start with '/' (e.g. '/dci') or be empty")
        return value
