"""The answer cache: keyed by model version and request, atomic, never through a symlink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.apply.answer_cache import CACHE_DIR, body_key, open_answer_cache

EP = "http://127.0.0.1:1/v1beta/"


def test_answers_are_kept_per_model_version_and_endpoint(tmp_path: Path) -> None:
    cache = open_answer_cache(tmp_path)
    assert cache is not None
    cache.save(endpoint=EP, model="tunedModels/a", update_time="t1", answers={"k": "A says"})

    assert cache.load(endpoint=EP, model="tunedModels/a", update_time="t1") == {"k": "A says"}
    assert cache.load(endpoint=EP, model="tunedModels/b", update_time="t1") == {}
    assert cache.load(endpoint=EP, model="tunedModels/a", update_time="t2") == {}
    assert (
        cache.load(endpoint="http://other/v1beta/", model="tunedModels/a", update_time="t1") == {}
    )
    assert (tmp_path / ".reconciler" / "cache" / ".gitignore").read_text() == "*\n"


def test_a_model_without_an_update_time_is_never_cached(tmp_path: Path) -> None:
    cache = open_answer_cache(tmp_path)
    assert cache is not None
    cache.save(endpoint=EP, model="tunedModels/a", update_time=None, answers={"k": "v"})
    assert not (tmp_path / CACHE_DIR).exists()
    assert cache.load(endpoint=EP, model="tunedModels/a", update_time=None) == {}


def test_a_file_naming_another_model_is_ignored(tmp_path: Path) -> None:
    cache = open_answer_cache(tmp_path)
    assert cache is not None
    cache.save(endpoint=EP, model="tunedModels/a", update_time="t1", answers={"k": "A says"})
    [entry] = (tmp_path / CACHE_DIR).glob("*.json")
    # B's file holds A's answers (copied, or a hash collision): they are not B's.
    cache.save(endpoint=EP, model="tunedModels/b", update_time="t1", answers={"k": "B says"})
    [b_entry] = [p for p in (tmp_path / CACHE_DIR).glob("*.json") if p != entry]
    b_entry.write_bytes(entry.read_bytes())
    assert cache.load(endpoint=EP, model="tunedModels/b", update_time="t1") == {}


def test_a_symlinked_cache_directory_is_not_used(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    (repo / ".reconciler").mkdir(parents=True)
    os.symlink(outside, repo / ".reconciler" / "cache")
    assert open_answer_cache(repo) is None


def test_a_symlink_in_place_of_the_file_is_replaced_not_written_through(tmp_path: Path) -> None:
    cache = open_answer_cache(tmp_path)
    assert cache is not None
    cache.save(endpoint=EP, model="tunedModels/a", update_time="t1", answers={"k": "first"})
    [entry] = (tmp_path / CACHE_DIR).glob("*.json")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    entry.unlink()
    os.symlink(victim, entry)

    assert cache.load(endpoint=EP, model="tunedModels/a", update_time="t1") == {}  # not followed
    cache.save(endpoint=EP, model="tunedModels/a", update_time="t1", answers={"k": "second"})

    assert victim.read_text() == "precious"
    assert not entry.is_symlink()
    assert cache.load(endpoint=EP, model="tunedModels/a", update_time="t1") == {"k": "second"}
    assert [p.name for p in (tmp_path / CACHE_DIR).iterdir() if p.name.endswith(".tmp")] == []


def test_the_body_key_ignores_key_order() -> None:
    assert body_key({"a": 1, "b": [1, 2]}) == body_key({"b": [1, 2], "a": 1})
    assert body_key({"a": 1}) != body_key({"a": 2})


def test_only_the_most_recently_written_model_versions_are_kept(tmp_path: Path) -> None:
    cache = open_answer_cache(tmp_path)
    assert cache is not None
    cache.max_files = 3
    dated: set[Path] = set()
    for version in range(5):
        cache.save(
            endpoint=EP, model="tunedModels/a", update_time=f"t{version}", answers={"k": "v"}
        )
        for path in set((tmp_path / CACHE_DIR).glob("*.json")) - dated:
            os.utime(path, (1000 + version, 1000 + version))  # written in this order
            dated.add(path)

    kept = [
        version
        for version in range(5)
        if cache.load(endpoint=EP, model="tunedModels/a", update_time=f"t{version}")
    ]
    assert kept == [2, 3, 4]


def test_answers_written_elsewhere_are_never_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pull request can force-add a file under the git-ignored cache, with the
    # answers that would make a gate pass: only this user's own writes count.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "mine"))
    (tmp_path / "repo").mkdir()
    cache = open_answer_cache(tmp_path / "repo")
    assert cache is not None
    cache.save(endpoint=EP, model="tunedModels/a", update_time="t1", answers={"k": "real"})
    [entry] = (tmp_path / "repo" / CACHE_DIR).glob("*.json")
    ours = entry.read_bytes()
    forged = ours.split(b"\n", 1)[1].replace(b'"real"', b'"forged"')
    assert cache.load(endpoint=EP, model="tunedModels/a", update_time="t1") == {"k": "real"}

    entry.write_bytes(forged)  # committed as plain JSON
    assert cache.load(endpoint=EP, model="tunedModels/a", update_time="t1") == {}

    # Sealed by another machine (another user's key): ignored as well.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "theirs"))
    cache.save(endpoint=EP, model="tunedModels/a", update_time="t1", answers={"k": "forged"})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "mine"))
    assert cache.load(endpoint=EP, model="tunedModels/a", update_time="t1") == {}
