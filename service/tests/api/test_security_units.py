"""Unit tests of the host's security building blocks (no server, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ibr_protocol import ErrorCode
from ibr_protocol.limits import RequestRefusedError, check_body_size, parse_json_limited
from ibr_service.outbox import retry_delay
from ibr_service.security.callbacks import check_callback_url, host_matches, parse_target
from ibr_service.security.client_secrets import hash_secret, verify_secret
from ibr_service.security.clients import register_client
from ibr_service.security.errors import ForbiddenError
from ibr_service.store_sql import SqlStore, upgrade

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_secret_hash_verifies_only_the_right_secret() -> None:
    """If this fails, a wrong client secret could obtain a token, or a right one could not."""
    stored = hash_secret("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_secret("correct horse", stored)
    assert not verify_secret("wrong horse", stored)
    assert not verify_secret("correct horse", "plain$text")


def _public(host: str) -> list[str]:
    return ["93.184.216.34"]


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("http://127.0.0.1:9/cb", None),
        ("http://10.1.2.3/cb", None),
        ("http://169.254.169.254/latest/meta-data", None),
        ("http://[::1]/cb", None),
        ("https://spmis.example.org/cb", ["192.168.1.20"]),
    ],
    ids=["loopback", "private-10", "link-local-metadata", "ipv6-loopback", "dns-to-private"],
)
def test_callback_to_non_public_address_is_refused(url: str, resolved: list[str] | None) -> None:
    """If this fails, a client can make the IBR POST into its own network (SSRF)."""
    allowed = [
        "127.0.0.1:9",
        "10.1.2.3:80",
        "169.254.169.254:80",
        "[::1]:80",
        "spmis.example.org:443",
    ]
    with pytest.raises(ForbiddenError) as caught:
        check_callback_url(
            url,
            allowed_hosts=allowed,
            allow_private=False,
            resolver=lambda host: resolved or [],
        )
    assert caught.value.code == ErrorCode.SENDER_URI_INVALID
    assert caught.value.field == "header.sender_uri"


def test_callback_host_must_be_registered() -> None:
    """If this fails, a client can send callbacks to any public host it names."""
    with pytest.raises(ForbiddenError, match="not among the client's allowed callback hosts"):
        check_callback_url(
            "https://evil.example.net/cb",
            allowed_hosts=["spmis.example.org:443"],
            allow_private=False,
            resolver=_public,
        )
    check_callback_url(
        "https://spmis.example.org/cb",
        allowed_hosts=["spmis.example.org:443"],
        allow_private=False,
        resolver=_public,
    )


def test_private_callback_allowed_only_when_client_is_marked() -> None:
    """If this fails, government-internal deployments cannot use private callback hosts."""
    check_callback_url(
        "http://127.0.0.1:8080/cb", allowed_hosts=["127.0.0.1:8080"], allow_private=True
    )


def test_wildcard_host_pattern_matches_subdomains_only() -> None:
    """If this fails, '*.gov.example' would also allow 'evilgov.example'."""
    assert host_matches("mis.gov.example", ["*.gov.example"])
    assert not host_matches("evilgov.example", ["*.gov.example"])


def test_body_size_and_depth_limits() -> None:
    """If this fails, a huge or deeply nested body reaches the parser and the database."""
    with pytest.raises(RequestRefusedError) as caught:
        check_body_size(2049, 2048)
    assert caught.value.http_status == 413
    with pytest.raises(RequestRefusedError, match="deeper than 4"):
        parse_json_limited(b'{"a":[[[[1]]]]}', max_depth=4)
    # Brackets inside strings do not count.
    assert parse_json_limited(b'{"a":"[[[[[[[[", "b":"\\"[["}', max_depth=2) == {
        "a": "[[[[[[[[",
        "b": '"[[',
    }
    with pytest.raises(RequestRefusedError, match="not valid JSON"):
        parse_json_limited(b'{"a":', max_depth=4)


def test_retry_delay_grows_and_is_capped() -> None:
    """If this fails, retries hammer a down receiver or wait unboundedly long."""
    highest = [
        retry_delay(n, base_seconds=1, cap_seconds=30, rng=lambda: 1.0) for n in (1, 2, 3, 6, 20)
    ]
    assert highest == [1, 2, 4, 30, 30]
    lowest = retry_delay(5, base_seconds=1, cap_seconds=30, rng=lambda: 0.0)
    assert lowest == 0.5


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/cb", True),
        ("http://127.0.0.1:6379/", False),
        ("http://127.0.0.1/cb", False),
        ("https://mis.example.org/dci/callbacks/on-search", True),
        ("https://mis.example.org/dci/callbacks", True),
        ("https://mis.example.org/dcix", False),
        ("https://mis.example.org:8443/dci/cb", False),
        ("http://mis.example.org/dci/cb", False),
        ("http://[::1]:9000/cb", True),
        ("http://[::1]:9001/cb", False),
    ],
)
def test_a_target_with_a_port_or_base_url_allows_only_that(url: str, allowed: bool) -> None:
    """If this fails, a client allowed private callbacks can make the IBR POST to any port of
    an allowed host (a local Redis on 6379), or a registered base URL does not work."""
    targets = ["127.0.0.1:8080", "https://mis.example.org/dci", "[::1]:9000"]

    def check() -> None:
        check_callback_url(url, allowed_hosts=targets, allow_private=True, resolver=_public)

    if allowed:
        check()
    else:
        with pytest.raises(ForbiddenError, match="not among the client's allowed callback hosts"):
            check()


@pytest.mark.parametrize(
    "entry", ["ftp://mis.example.org", "mis.example.org:0", "mis.example.org:99999", "a/b", ""]
)
def test_junk_callback_targets_are_refused_at_registration(entry: str) -> None:
    """If this fails, a mistyped target is stored and silently allows nothing (or too much)."""
    with pytest.raises(ValueError, match="callback target"):
        parse_target(entry)


@pytest.mark.parametrize(
    ("entry", "hint"),
    [
        ("127.0.0.1", "127.0.0.1:PORT"),
        ("mis.example.org", "mis.example.org:PORT"),
        ("*.gov.example", "*.gov.example:PORT"),
        ("[::1]", "[::1]:PORT"),
    ],
)
def test_a_bare_host_is_refused_at_registration(entry: str, hint: str) -> None:
    """If this fails, a target without a port is registered, and a client allowed private
    callbacks can make the IBR POST to another port of that host (a local Redis on 6379)."""
    with pytest.raises(ValueError, match="has no port") as caught:
        parse_target(entry)
    assert hint in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bare_host_cannot_be_registered_for_a_client(tmp_path: Path) -> None:
    """If this fails, `register_client` (behind `ibr clients add`) stores an any-port target."""
    url = f"sqlite:///{tmp_path}/clients.db"
    upgrade(url)
    store = SqlStore.from_url(url)
    with pytest.raises(ValueError, match=r"127\.0\.0\.1:PORT"):
        register_client(store, sender_id="sp", now=NOW, allowed_callback_hosts=["127.0.0.1"])
    with store.transaction() as tx:
        assert tx.get_client("sp") is None
    register_client(store, sender_id="sp", now=NOW, allowed_callback_hosts=["127.0.0.1:8443"])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:6379/", False),
        ("http://127.0.0.1:8080/cb", False),
        ("https://127.0.0.1:8443/cb", False),
        ("http://127.0.0.1/cb", True),
        ("http://127.0.0.1:80/cb", True),
        ("https://127.0.0.1/cb", True),
        ("http://127.0.0.1:443/cb", False),
    ],
)
def test_a_stored_bare_host_allows_only_the_default_port_of_the_scheme(
    url: str, allowed: bool
) -> None:
    """If this fails, a bare host stored before targets needed a port still lets a client make
    the IBR POST to any port of it, or the refusal does not say how to re-register."""

    def check() -> None:
        check_callback_url(url, allowed_hosts=["127.0.0.1"], allow_private=True)

    if allowed:
        check()
        return
    with pytest.raises(ForbiddenError) as caught:
        check()
    assert "127.0.0.1:PORT" in caught.value.message
    assert "ibr clients callback-targets" in caught.value.message
