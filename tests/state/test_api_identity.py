"""How endpoints recorded in a state are compared (pure functions)."""

from __future__ import annotations

import pytest

from reconciler.applied import normalized_endpoint, same_api


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com"),
        (
            "HTTPS://GenerativeLanguage.googleapis.com:443/",
            "https://generativelanguage.googleapis.com",
        ),
        (
            "https://user:secret@proxy.example.com:8443/gemini/?key=abc#x",
            "https://proxy.example.com:8443/gemini",
        ),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://[::1]:80", "http://[::1]"),
    ],
)
def test_normalized_endpoint_keeps_no_credentials(given: str, recorded: str) -> None:
    assert normalized_endpoint(given) == recorded


@pytest.mark.parametrize(
    ("recorded", "current", "same"),
    [
        (
            "https://generativelanguage.googleapis.com",
            "https://generativelanguage.googleapis.com/",
            True,
        ),
        ("https://generativelanguage.googleapis.com", "http://127.0.0.1:8765", False),
        ("http://127.0.0.1:8765", "https://generativelanguage.googleapis.com", False),
        ("http://127.0.0.1:8765", "http://localhost:9999", True),
        ("http://[::1]:1", "http://127.0.0.2:2", True),
        ("https://a.example.com", "https://b.example.com", False),
        ("https://proxy.example.com/v1", "https://proxy.example.com/v2", False),
    ],
)
def test_same_api(recorded: str, current: str, same: bool) -> None:
    assert same_api(recorded, current) is same
