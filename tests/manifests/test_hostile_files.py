"""Data and manifest files that used to hang or crash `validate`: each is now a located error.

Through the CLI, as a user meets them; each run has a timeout, so a hang is a
failure rather than a stuck suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.manifests import _yaml, inspect_manifests
from tests.support.servers import run_cli

DATASET = """apiVersion: gemini.tuning/v1
kind: TunedModel
metadata:
  name: m
spec:
  baseModel: models/gemini-1.5-flash-001-tuning
  tuningTask:
    trainingData: {{file: {file}}}
"""


def _with_data_file(tmp_path: Path, name: str, data: bytes | None = None) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(DATASET.format(file=name))
    if data is not None:
        (tmp_path / "manifests" / name).write_bytes(data)
    return tmp_path


def test_a_fifo_named_like_a_data_file_is_refused_without_waiting(tmp_path: Path) -> None:
    _with_data_file(tmp_path, "x.jsonl")
    os.mkfifo(tmp_path / "manifests" / "x.jsonl")

    result = run_cli("validate", cwd=tmp_path, timeout=60)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "manifests/x.jsonl: error: data file is not a regular file (a FIFO); "
        "only regular files are read"
    )


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_nested_100001_deep_is_a_located_error(tmp_path: Path, suffix: str) -> None:
    nested = b"[" * 100_001 + b"]" * 100_001
    body = b"[" + nested + b"]\n" if suffix == ".json" else b'{"output": "a"}\n' + nested + b"\n"
    _with_data_file(tmp_path, f"x{suffix}", body)

    result = run_cli("validate", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    line = 1 if suffix == ".json" else 2
    assert (
        f"manifests/x{suffix}:{line}: error: invalid JSON: nested too deeply "
        "(an example is one flat object)"
    ) in result.stdout.splitlines()
    assert "internal error" not in result.stdout + result.stderr


def test_a_lone_surrogate_in_jsonl_is_a_located_error(tmp_path: Path) -> None:
    _with_data_file(tmp_path, "x.jsonl", b'{"textInput": "\\ud800", "output": "b"}\n')

    result = run_cli("validate", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == (
        "manifests/x.jsonl:1: error: `textInput` holds a lone surrogate (\\ud800): half of a "
        "character, not text (write the character itself, or both halves of its \\u escape pair)"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"kind: Dataset\nmetadata: {name: caf\xe9}\n", "m.yaml:2:21: error: not UTF-8 text: byte 0xE9 cannot be read"),
        (b"kind: Dataset\n\nmetadata: {name: a\x00}\n", "m.yaml:3:19: error: a NUL byte is not allowed in YAML"),
        (b"kind: Dataset\nspec: \x1b[31m\n", "m.yaml:2:7: error: the control character U+001B is not allowed in YAML"),
    ],
    ids=["latin-1", "nul", "escape"],
)  # fmt: skip
def test_bytes_that_are_not_yaml_text_are_located_by_line_and_column(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_bytes(data)

    result = run_cli("validate", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(f"manifests/{expected}")


def test_the_pure_python_parser_locates_them_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_yaml, "_LOADER", _yaml._PureLoader)
    (tmp_path / "a.yaml").write_bytes(b"a: 1\nb: x\x00\n")
    (tmp_path / "b.yaml").write_bytes(b'a: 1\nb: "\\ud800"\n')

    result = inspect_manifests([tmp_path], root=tmp_path, use_cache=False)

    assert [(Path(d.location.file).name, d.location.line, d.location.column, d.message) for d in result.errors] == [
        ("a.yaml", 2, 5, "a NUL byte is not allowed in YAML"),
        ("b.yaml", 2, 4, "a lone surrogate (\\ud800) is half of a character, not text"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("x.csv", b"textInput,output,output\na,b,c\n", "x.csv:1: error: duplicate column `output` (columns 2 and 3)"),
        ("x.jsonl", b'{"textInput": "a", "output": "b"}\n{"textInput": "a", "output": "b", "output": "c"}\n', "x.jsonl:2: error: duplicate key `output` in an example"),
        ("x.json", b'[{"textInput": "a",\n  "textInput": "b", "output": "c"}]\n', "x.json:1: error: duplicate key `textInput` in an example"),
    ],
    ids=["csv", "jsonl", "json"],
)  # fmt: skip
def test_a_key_or_column_written_twice_is_an_error_naming_the_line(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    _with_data_file(tmp_path, name, data)

    result = run_cli("validate", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(f"manifests/{expected}")
