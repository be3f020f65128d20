"""The API key from a file (or an environment variable) rather than a command line,
which other users can read in `ps`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ServedEmulator, run_cli, serve_emulator

KEY = "AIzaSy-key-from-a-file-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", api_key=KEY) as server:
        yield server


def test_the_key_is_read_from_a_file(keyed: ServedEmulator, tmp_path: Path) -> None:
    key_file = tmp_path / "gemini.key"
    key_file.write_text(KEY + "\n", encoding="utf-8")

    by_flag = run_cli("--endpoint", keyed.url, "--api-key-file", str(key_file), "inventory")
    by_env = run_cli(
        "--endpoint", keyed.url, "inventory", env={"RECONCILER_API_KEY_FILE": str(key_file)}
    )
    without = run_cli("--endpoint", keyed.url, "inventory")

    assert by_flag.returncode == 0, by_flag.stderr
    assert by_env.returncode == 0, by_env.stderr
    assert without.returncode == 1  # the emulator really checks the key it was given
    assert "403 PERMISSION_DENIED" in without.stderr


def test_an_unreadable_or_malformed_key_file_is_named_without_its_content(
    tmp_path: Path,
) -> None:
    missing = run_cli("--api-key-file", str(tmp_path / "nope.key"), "inventory")
    two_words = tmp_path / "two.key"
    two_words.write_text("not a-key at-all\n", encoding="utf-8")
    malformed = run_cli("--api-key-file", str(two_words), "inventory")
    both = run_cli("--api-key", KEY, "--api-key-file", str(two_words), "inventory")

    assert missing.returncode == 2
    assert f"cannot read {tmp_path / 'nope.key'}: No such file or directory" in missing.stderr
    assert malformed.returncode == 2
    assert "does not hold one API key" in malformed.stderr
    assert "a-key" not in malformed.stderr
    assert both.returncode == 2
    assert "--api-key or --api-key-file, not both" in both.stderr
    assert KEY not in both.stderr


def test_the_help_says_a_command_line_key_is_visible() -> None:
    result = run_cli("--help")

    assert "--api-key-file" in result.stdout
    assert "visible to other users (ps)" in " ".join(result.stdout.split())
