"""`-v` prints the traceback of an error; none of its lines holds the key, even when a
broken server echoes it where httpx quotes the server (reason phrase, malformed lines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.misbehaving_server import misbehaving_server
from tests.support.servers import run_cli

KEY = "AIzaSy-verbose-secret-0123456789abcdefXY"


@pytest.mark.parametrize("mode", ["echo-reason", "echo-status-line", "echo-header"])
def test_verbose_output_never_shows_a_key_the_server_echoed(tmp_path: Path, mode: str) -> None:
    (tmp_path / "manifests").mkdir()
    with misbehaving_server(mode) as server:
        result = run_cli(
            "-v",
            "--endpoint",
            server.url,
            "inventory",
            cwd=tmp_path,
            env={"GEMINI_API_KEY": KEY, "RECONCILER_REQUEST_TIMEOUT": "2s"},
        )

    assert server.requests >= 1
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr  # -v shows the chain
    assert "httpx" in result.stderr
    assert KEY not in result.stderr
    assert KEY[:12] not in result.stderr
    assert KEY not in result.stdout
