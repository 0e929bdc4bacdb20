"""Configuration: file, environment and overrides; errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibr_client import ClientConfig, ConfigError, load_config


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """If this fails, operators cannot keep secrets out of the config file."""
    path = tmp_path / "c.toml"
    path.write_text(
        'ibr_url = "https://a.test"\nclient_id = "x"\nclient_secret = "file"\nsender_id = "x"\n'
    )
    config = load_config(path, env={"IBR_CLIENT_CLIENT_SECRET": "env", "IBR_CLIENT_RETRIES": "5"})
    assert config.client_secret.get_secret_value() == "env"
    assert config.retries == 5
    assert config.effective_token_url == "https://a.test/oauth2/client/token"


def test_missing_setting_says_how_to_set_it() -> None:
    """If this fails, a missing URL gives a pydantic dump instead of a fix."""
    with pytest.raises(ConfigError, match=r"ibr_url: is required.*IBR_CLIENT_IBR_URL"):
        load_config(env={"IBR_CLIENT_CLIENT_ID": "x"})


def test_bad_url_is_named() -> None:
    """If this fails, a URL without scheme fails later with an obscure httpx error."""
    with pytest.raises(ConfigError, match=r"ibr_url.*absolute http"):
        load_config(
            env={},
            overrides={
                "ibr_url": "ibr.local",
                "client_id": "x",
                "client_secret": "y",
                "sender_id": "x",
            },
        )


def test_unknown_setting_lists_the_valid_ones(tmp_path: Path) -> None:
    """If this fails, a misspelt key in the file is silently ignored."""
    path = tmp_path / "c.toml"
    path.write_text('ibr_ulr = "https://a.test"\n')
    with pytest.raises(ConfigError, match=r"ibr_ulr: is not a known setting.*ibr_url"):
        load_config(path, env={})


def test_missing_signing_key_file_is_reported(tmp_path: Path) -> None:
    """If this fails, a wrong key path surfaces as a FileNotFoundError traceback."""
    config = load_config(
        env={},
        overrides={
            "ibr_url": "https://a.test",
            "client_id": "x",
            "client_secret": "y",
            "sender_id": "x",
            "signing_key_file": str(tmp_path / "nope.json"),
        },
    )
    with pytest.raises(ConfigError, match=r"signing_key_file.*does not exist"):
        config.signing_key()


def test_the_example_configuration_loads_and_names_every_setting() -> None:
    """If this fails, reference_client/ibr-client.toml.example (which the docs point newcomers
    to) does not load, or a setting is missing from it (set or commented out)."""
    example = Path(__file__).parents[1] / "ibr-client.toml.example"
    config = load_config(example, env={"IBR_CLIENT_CLIENT_SECRET": "from-the-environment"})
    assert config.sender_id == "ke.pension-mis"
    assert config.listen_port == 8700
    text = example.read_text(encoding="utf-8")
    named = {
        name for name in ClientConfig.model_fields if f"# {name}" in text or f"\n{name} =" in text
    }
    assert named == set(ClientConfig.model_fields) - {"sign_requests", "verify_callbacks"}
