"""Symlinked manifest files and directories: followed inside the repository, a located error outside.

A manifest that is not read is a model planned for deletion, so nothing here
may be skipped silently: every link the loader does not follow is an error
naming the link.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.manifests import inspect_manifests
from tests.support.servers import ServedEmulator, run_cli

MODEL = """apiVersion: gemini.tuning/v1
kind: TunedModel
metadata:
  name: {name}
spec:
  baseModel: models/gemini-1.5-flash-001-tuning
  tuningTask:
    trainingData:
      examples:
        - {{textInput: "1", output: "2"}}
"""
SECRET = "TOP-SECRET-CONTENT-0451"


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "manifests").mkdir(parents=True)
    (repo / "manifests" / "own.yaml").write_text(MODEL.format(name="own"))
    return repo


def _shared(base: Path, *names: str) -> Path:
    shared = base / "shared" / "team-a"
    shared.mkdir(parents=True)
    for name in names:
        (shared / f"{name}.yaml").write_text(MODEL.format(name=name))
    return shared


def test_a_linked_directory_inside_the_repository_is_read(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _shared(repo, "m000", "m001")
    os.symlink("../shared/team-a", repo / "manifests" / "team-a")

    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)

    assert result.errors == []
    assert sorted(result.desired.models) == ["m000", "m001", "own"]
    assert str(result.desired.models["m000"].location).endswith("manifests/team-a/m000.yaml:4:9")


def test_a_linked_directory_outside_the_repository_is_a_located_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    outside = _shared(tmp_path, "m000", "m001")
    os.symlink(outside, repo / "manifests" / "team-a")

    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)

    assert [str(d) for d in result.errors] == [
        f"{(repo / 'manifests' / 'team-a').as_posix()}: error: symlink to `{outside.as_posix()}`, "
        "outside the repository root: its manifests are not read "
        "(keep it inside the repository, or pass --allow-outside-root)"
    ]
    allowed = inspect_manifests(
        [repo / "manifests"], root=repo, allow_outside_root=True, use_cache=False
    )
    assert allowed.errors == []
    assert sorted(allowed.desired.models) == ["m000", "m001", "own"]


def test_a_linked_file_outside_the_repository_is_refused_unread(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    secret = tmp_path / "secret.yaml"
    secret.write_text(f"password: [{SECRET}\n")  # invalid YAML: an error would quote it
    os.symlink(secret, repo / "manifests" / "stolen.yaml")

    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)

    assert [d.message for d in result.errors] == [
        f"symlink to `{secret}`, outside the repository root: its manifests are not read"
    ]
    assert all(SECRET not in str(d) for d in result.diagnostics)


def test_a_linked_file_inside_the_repository_is_read(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "elsewhere").mkdir()
    (repo / "elsewhere" / "m.yaml").write_text(MODEL.format(name="linked"))
    os.symlink("../elsewhere/m.yaml", repo / "manifests" / "m.yaml")

    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)

    assert result.errors == []
    assert sorted(result.desired.models) == ["linked", "own"]


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ({"a.yaml": "b.yaml", "b.yaml": "a.yaml"}, "symlink loop (the link leads back to itself)"),
        ({"up": ".."}, "symlink loop: the link leads back to a directory that contains it"),
        ({"team-b": "../not-checked-out"}, "broken symlink: its target `../not-checked-out` does not exist"),
        ({"gone.yaml": "nowhere.yaml"}, "broken symlink: its target `nowhere.yaml` does not exist"),
    ],
    ids=["file-loop", "directory-loop", "broken-directory", "broken-file"],
)  # fmt: skip
def test_loops_and_broken_links_are_errors_not_hangs(
    tmp_path: Path, links: dict[str, str], message: str
) -> None:
    repo = _repo(tmp_path)
    for name, target in links.items():
        os.symlink(target, repo / "manifests" / name)

    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)

    assert message in [d.message for d in result.errors]
    assert sorted(result.desired.models) == ["own"]


def test_a_fifo_named_like_a_manifest_is_an_error_not_a_hang(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    os.mkfifo(repo / "manifests" / "pipe.yaml")

    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)

    assert [(Path(d.location.file).name, d.message) for d in result.errors] == [
        ("pipe.yaml", "not a regular file (a FIFO, socket or device); it is not read")
    ]


def test_a_data_file_symlink_loop_is_a_located_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    os.symlink("loop.jsonl", repo / "manifests" / "loop.jsonl")
    (repo / "manifests" / "d.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: Dataset\nmetadata: {name: d}\n"
        "spec: {file: loop.jsonl}\n"
    )

    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)

    assert [(d.location.line, d.message) for d in result.errors] == [
        (4, "data file `loop.jsonl`: symlink loop (the link leads back to itself)")
    ]


def test_validate_names_the_link_and_fails(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    outside = _shared(tmp_path, "m000")
    os.symlink(outside, repo / "manifests" / "team-a")

    result = run_cli("validate", cwd=repo)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"manifests/team-a: error: symlink to `{outside}`, outside the repository "
        "root: its manifests are not read (keep it inside the repository, or pass "
        "--allow-outside-root)"
    )
    allowed = run_cli("validate", "--allow-outside-root", cwd=repo)
    assert allowed.returncode == 0, allowed.stdout
    assert allowed.stdout.splitlines()[-1].startswith("2 models")


def test_plan_creates_the_models_of_a_linked_directory(
    tmp_path: Path, emulator: ServedEmulator
) -> None:
    repo = _repo(tmp_path)
    _shared(repo, "m000", "m001", "m002")
    os.symlink("../shared/team-a", repo / "manifests" / "team-a")
    argv = ["--endpoint", emulator.url, "plan", "--format", "json"]

    result = run_cli(*argv, cwd=repo)

    assert result.returncode == 0, result.stderr
    assert '"action": "delete"' not in result.stdout
    for name in ("m000", "m001", "m002", "own"):
        assert f'"name": "tunedModels/{name}"' in result.stdout


def test_plan_refuses_a_directory_linked_from_outside(
    tmp_path: Path, emulator: ServedEmulator
) -> None:
    repo = _repo(tmp_path)
    _shared(tmp_path, "m000")
    os.symlink(tmp_path / "shared" / "team-a", repo / "manifests" / "team-a")

    result = run_cli("--endpoint", emulator.url, "plan", cwd=repo)

    assert result.returncode == 1
    assert "Error: manifests/team-a: symlink to" in result.stderr
    assert "outside the repository root: its manifests are not read" in result.stderr


def test_plan_reads_a_directory_linked_from_outside_with_allow_outside_root(
    tmp_path: Path, emulator: ServedEmulator
) -> None:
    repo = _repo(tmp_path)
    _shared(tmp_path, "m000")
    os.symlink(tmp_path / "shared" / "team-a", repo / "manifests" / "team-a")

    result = run_cli(
        "--endpoint", emulator.url, "plan", "--allow-outside-root", "--format", "json", cwd=repo
    )

    assert result.returncode == 0, result.stderr
    assert '"name": "tunedModels/m000"' in result.stdout
