"""The parsed-manifest cache: bounded, kept inside the repository's .reconciler/, ignored by git."""

from __future__ import annotations

import functools
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.manifests import CACHE_DIR, _load, load_manifests
from reconciler.manifests._cache import open_cache
from tests.support.servers import REPO_ROOT, run_cli

MODEL = (
    "apiVersion: gemini.tuning/v1\nkind: TunedModel\nmetadata: {{name: m{n}}}\nspec:\n"
    "  baseModel: models/gemini-1.5-flash-001-tuning\n"
    "  tuningTask:\n    trainingData: {{examples: [{{textInput: a, output: b}}]}}\n"
)


def _write_models(directory: Path, numbers: range) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (directory / f"m{n}.yaml").write_text(MODEL.format(n=n))


def _entries(root: Path) -> set[str]:
    return {p.name for p in (root / CACHE_DIR).iterdir()}


def test_cache_is_pruned_to_the_limit_keeping_what_the_run_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old"
    _write_models(old, range(6))
    load_manifests([old], root=tmp_path)  # the default limit: all 6 kept
    first_run = _entries(tmp_path)
    assert len(first_run) == 6
    # Age the entries so that the least recently used order is certain.
    for age, name in enumerate(sorted(first_run)):
        os.utime(tmp_path / CACHE_DIR / name, (1_000_000 + age, 1_000_000 + age))

    new = tmp_path / "new"
    _write_models(new, range(10, 13))
    monkeypatch.setattr(_load, "open_cache", functools.partial(open_cache, max_entries=4))
    result = load_manifests([new], root=tmp_path)
    assert result.models == 3
    remaining = _entries(tmp_path)
    assert len(remaining) == 4
    # The three entries of this run survive, plus the most recently used old one.
    assert remaining - first_run == _entries_for(new)
    assert remaining & first_run == {sorted(first_run)[-1]}


def _entries_for(directory: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() + ".json" for p in directory.glob("*.yaml")}


def test_a_hit_marks_the_entry_as_recently_used(tmp_path: Path) -> None:
    _write_models(tmp_path / "m", range(1))
    load_manifests([tmp_path / "m"], root=tmp_path)
    (entry,) = (tmp_path / CACHE_DIR).iterdir()
    os.utime(entry, (1_000_000, 1_000_000))
    load_manifests([tmp_path / "m"], root=tmp_path)
    assert entry.stat().st_mtime > 1_000_000


def test_creating_the_cache_makes_git_ignore_it(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is needed to prove the cache is ignored")
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True)
    _write_models(tmp_path / "manifests", range(2))
    load_manifests([tmp_path / "manifests"], root=tmp_path)

    assert (tmp_path / ".reconciler" / ".gitignore").read_text().splitlines()[-1] == "cache/"
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert sorted(status) == [
        "?? .reconciler/.gitignore",
        "?? manifests/m0.yaml",
        "?? manifests/m1.yaml",
    ]


def test_an_existing_gitignore_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".reconciler").mkdir()
    (tmp_path / ".reconciler" / ".gitignore").write_text("state.json.lock\n")
    _write_models(tmp_path / "m", range(1))
    load_manifests([tmp_path / "m"], root=tmp_path)
    assert (tmp_path / ".reconciler" / ".gitignore").read_text() == "state.json.lock\n"
    assert (tmp_path / ".reconciler" / "cache" / ".gitignore").read_text() == "*\n"


def test_files_outside_the_repository_are_not_cached(tmp_path: Path) -> None:
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    _write_models(elsewhere, range(2))
    result = load_manifests([elsewhere], root=repo)
    assert result.models == 2
    assert not (repo / ".reconciler").exists()


def test_a_symlinked_reconciler_directory_leading_outside_disables_the_cache(
    tmp_path: Path,
) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    outside.mkdir()
    _write_models(repo / "m", range(2))
    (repo / ".reconciler").symlink_to(outside, target_is_directory=True)
    result = load_manifests([repo / "m"], root=repo)
    assert result.models == 2
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "link", [".reconciler/.gitignore", ".reconciler/cache/.gitignore", ".reconciler/cache"]
)
def test_a_symlink_where_the_cache_writes_is_never_written_through(
    tmp_path: Path, link: str
) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    outside.mkdir()
    _write_models(repo / "manifests", range(2))
    (repo / link).parent.mkdir(parents=True, exist_ok=True)
    # Dangling: following it would create a file (or directory) outside the repository.
    (repo / link).symlink_to(outside / "planted")

    result = run_cli("validate", cwd=repo)

    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[0] == (
        f".reconciler: warning: `{link}` is a symlink: the manifest cache is not used, "
        "so that nothing is written where the link leads"
    )
    assert list(outside.iterdir()) == []
    assert (repo / link).is_symlink()
    assert not (repo / CACHE_DIR).exists()


def test_a_full_disk_leaves_no_empty_gitignore(tmp_path: Path) -> None:
    """A file-size limit of a few bytes makes every write fail, as a full disk does."""
    _write_models(tmp_path / "manifests", range(2))

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    left = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / ".reconciler").rglob("*"))
    assert left == [], left  # an empty .gitignore would be staged by `git add -A`


def test_an_entry_not_written_on_this_machine_is_never_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pull request can force-add files under the git-ignored cache: an entry
    # at the right name claiming other documents must not change what plan sees.
    repo = tmp_path / "repo"
    _write_models(repo / "manifests", range(1))
    key_home = tmp_path / "home-cache"
    env = {"XDG_CACHE_HOME": str(key_home)}
    first = run_cli("validate", "--format", "json", cwd=repo, env=env)
    assert first.returncode == 0, first.stderr
    (entry,) = (repo / CACHE_DIR).iterdir()
    assert (key_home / "reconciler" / "cache.key").stat().st_mode & 0o777 == 0o600
    sealed_text = entry.read_bytes()
    documents = sealed_text.split(b"\n", 1)[1]
    assert b'"m0"' in documents
    forged = documents.replace(b'"m0"', b'"forged-model"')
    another_key = b"0" * 64  # a seal made with some other key
    for content in (forged, another_key + b"\n" + forged):
        entry.write_bytes(content)
        again = run_cli("validate", "--format", "json", cwd=repo, env=env)
        assert again.returncode == 0, again.stderr
        assert "forged-model" not in again.stdout
        assert entry.read_bytes() == sealed_text  # parsed anew and sealed again
