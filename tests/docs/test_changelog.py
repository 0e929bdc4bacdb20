"""CHANGELOG.md is assembled from changes/: every fragment's every change, in the three styles."""

from __future__ import annotations

from .gen import REPO, load

changelog = load("changelog")


def test_one_change_per_line() -> None:
    assert changelog.entries("First change.\nSecond change.\n") == [
        "First change.",
        "Second change.",
    ]


def test_bullets_with_indented_continuations() -> None:
    text = "- one: a long\n  change.\n- two.\n"
    assert changelog.entries(text) == ["one: a long change.", "two."]


def test_a_wrapped_paragraph_is_one_change() -> None:
    text = "Added the host: routes under `/registry`,\nthe token endpoint and\n`ibr serve`.\n"
    assert changelog.entries(text) == [
        "Added the host: routes under `/registry`, the token endpoint and `ibr serve`."
    ]


def test_every_fragment_is_in_the_changelog() -> None:
    rendered = changelog.render()
    fragments = sorted((REPO / "changes").glob("*.md"))
    assert fragments
    for fragment in fragments:
        for entry in changelog.entries(fragment.read_text(encoding="utf-8")):
            assert f"- {entry}" in rendered, f"{fragment.name}: {entry[:60]}"
