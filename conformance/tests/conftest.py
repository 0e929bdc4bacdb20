"""Fixtures: the real IBR and a fast fake on loopback, the suite's key, and a suite runner."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ibr_conformance.config import RunConfig
from ibr_conformance.events import RunFinished
from ibr_conformance.phases import Phase
from ibr_conformance.requirements import RequirementCatalogue, default_catalogue_path
from ibr_conformance.runner import run
from ibr_protocol import generate_signing_key

from .real_ibr import RealIbr, _add_client, real_ibr

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def catalogue() -> RequirementCatalogue:
    return RequirementCatalogue.from_file(default_catalogue_path())


@pytest.fixture(scope="session")
def suite_key() -> dict[str, Any]:
    return generate_signing_key("conformance-suite-1")


@pytest.fixture(scope="session")
def suite_key_file(suite_key: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "suite.jwk.json"
    path.write_text(json.dumps(suite_key))
    return path


OPTIONAL_SIGNATURE_CLIENT = "conf-sig-optional"


@pytest.fixture(scope="session")
def ibr(suite_key: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealIbr]:
    """The real standalone IBR, started through its `ibr` command on a temp SQLite file, with
    one more client registered under signature policy optional (IBR-SIG-016)."""
    workdir = tmp_path_factory.mktemp("ibr")
    with real_ibr(workdir, suite_key) as server:
        env = {**os.environ, "IBR_DATABASE_URL": f"sqlite:///{workdir / 'ibr.db'}"}
        server.secrets[OPTIONAL_SIGNATURE_CLIENT] = _add_client(
            env,
            OPTIONAL_SIGNATURE_CLIENT,
            workdir / "suite.pub.jwk",
            "--signature",
            "optional",
            "--programme",
            "CONF-PROG",
        )
        yield server


RunSuite = Callable[..., RunFinished]


@pytest.fixture(scope="session")
def run_suite(suite_key_file: Path, catalogue: RequirementCatalogue, ibr: RealIbr) -> RunSuite:
    """Run the suite against `base_url` with the clients registered on the real IBR."""

    def go(base_url: str, **overrides: Any) -> RunFinished:
        config = RunConfig.model_validate(
            {
                "base_url": base_url,
                "client_id": "conf-main",
                "client_secret": ibr.secrets["conf-main"],
                "second_client_id": "conf-second",
                "second_client_secret": ibr.secrets["conf-second"],
                "limited_client_id": "conf-limited",
                "limited_client_secret": ibr.secrets["conf-limited"],
                "optional_signature_client_id": OPTIONAL_SIGNATURE_CLIENT,
                "optional_signature_client_secret": ibr.secrets[OPTIONAL_SIGNATURE_CLIENT],
                "signing_key": str(suite_key_file),
                "foreign_programme": "OTHER-PROG",
                "second_programme": "OTHER-PROG",
                "phases": (Phase.ENVELOPE, Phase.SECURITY, Phase.SCENARIOS),
                "callback_timeout": 4.0,
                **ibr.receiver_settings(),
                **overrides,
            }
        )
        return run(config, catalogue=catalogue)

    return go
