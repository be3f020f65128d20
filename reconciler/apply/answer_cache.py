"""Answers of evaluated models under ``.reconciler/cache/answers-v2/``, so a rerun sends nothing.

One file per live model *version*: its name is the sha256 of (endpoint, live
model name, the model's ``updateTime``), and inside it the answers are keyed
by the sha256 of the exact generateContent request body. So:

* an unchanged evaluation of an unchanged model is answered from here, with
  no request;
* one model's answers can never be reported as another's: another model, the
  same name on another endpoint, or the same model after any change (a new
  generation, a PATCH) has another ``updateTime`` and so another file; the
  file also names its model, endpoint and time, and a file whose names do not
  match is ignored;
* a model without an ``updateTime`` is never cached;
* at most ``MAX_FILES`` model versions are kept (the least recently written
  are removed after a write).

Every file is sealed with a key kept outside the repository
(``reconciler.sealed``): a file that a commit force-added under the git-ignored
cache, or that another machine wrote, is ignored, so no one can make a gate
pass by committing the answers it wants.

Writes are atomic (a temporary file opened with ``O_EXCL | O_NOFOLLOW``,
fsync, rename over the target, which replaces a symlink rather than writing
through it), and a cache directory that is a symlink is not used at all.
Reads are bounded in size and never follow a symlink. Everything is best
effort: any problem means the answers are asked for again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler import sealed

CACHE_DIR = Path(".reconciler", "cache", "answers-v2")
# A file holds one model version's answers (1,000 examples x a few KiB); larger
# files are not read (a wrong or hostile file must not exhaust memory).
MAX_FILE_BYTES = 64 * 1024 * 1024
GITIGNORE_TEXT = "# written by reconciler: local caches, safe to delete\ncache/\n"
# Model versions kept: a file per version evaluated, so old generations and
# versions replaced long ago would otherwise pile up. The least recently
# written go first.
MAX_FILES = 200


def body_key(body: Mapping[str, Any]) -> str:
    """The sha256 of a request body in canonical JSON (key order and spacing do not matter)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AnswerCache:
    """Answers by (endpoint, model, update time) and request body. Build with ``open_answer_cache``."""

    def __init__(self, directory: Path, *, max_files: int = MAX_FILES) -> None:
        self.directory = directory
        self.max_files = max_files

    def _file(self, *, endpoint: str, model: str, update_time: str) -> Path:
        identity = json.dumps([endpoint, model, update_time], separators=(",", ":"))
        return self.directory / (hashlib.sha256(identity.encode("utf-8")).hexdigest() + ".json")

    def load(self, *, endpoint: str, model: str, update_time: str | None) -> dict[str, str]:
        """The cached answers of this model version by body key ({} when none)."""
        if not update_time:
            return {}
        path = self._file(endpoint=endpoint, model=model, update_time=update_time)
        try:
            opened = sealed.unseal(_read_no_follow(path))
            if opened is None:
                return {}  # not written by this user on this machine
            data = json.loads(opened)
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or (
            data.get("endpoint"),
            data.get("model"),
            data.get("updateTime"),
        ) != (endpoint, model, update_time):
            return {}
        answers = data.get("answers")
        if not isinstance(answers, dict):
            return {}
        return {k: v for k, v in answers.items() if isinstance(k, str) and isinstance(v, str)}

    def save(
        self, *, endpoint: str, model: str, update_time: str | None, answers: Mapping[str, str]
    ) -> None:
        """Store this model version's answers (replacing the file whole); no-op without a time."""
        if not update_time or not answers:
            return
        path = self._file(endpoint=endpoint, model=model, update_time=update_time)
        payload = {
            "endpoint": endpoint,
            "model": model,
            "updateTime": update_time,
            "answers": dict(answers),
        }
        data = sealed.seal(
            json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        )
        if data is None:
            return  # no key can be kept here: no cache
        with contextlib.suppress(OSError):
            _make_directory(self.directory)
            _write_atomically(path, data)
            self._prune(keep=path.name)

    def _prune(self, *, keep: str) -> None:
        """Remove the least recently written files beyond ``max_files`` (never ``keep``)."""
        entries = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False):
                entries.append((entry.stat(follow_symlinks=False).st_mtime, entry.name))
        excess = len(entries) - self.max_files
        for _, name in sorted(entries)[: max(excess, 0)]:
            if name != keep:
                with contextlib.suppress(OSError):
                    os.unlink(self.directory / name)


def open_answer_cache(root: Path) -> AnswerCache | None:
    """The cache of the working directory ``root``; None when a part of its path is a symlink."""
    directory = root / CACHE_DIR
    current = root
    for part in CACHE_DIR.parts:
        current = current / part
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return None
    return AnswerCache(directory)


def _read_no_follow(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as file:
        if os.fstat(file.fileno()).st_size > MAX_FILE_BYTES:
            raise OSError("cache file too large")
        return file.read(MAX_FILE_BYTES + 1)


def _make_directory(directory: Path) -> None:
    """Create ``.reconciler/cache/answers-v2`` (no symlinked part) and its ``.gitignore``s."""
    cache = directory.parent
    base = cache.parent
    for part in (base, cache, directory):
        try:
            os.mkdir(part)
        except FileExistsError:
            if stat.S_ISLNK(os.lstat(part).st_mode) or not part.is_dir():
                raise OSError(f"{part} is not a plain directory") from None
    for ignore, text in ((base / ".gitignore", GITIGNORE_TEXT), (cache / ".gitignore", "*\n")):
        if not os.path.lexists(ignore):
            with contextlib.suppress(OSError):
                _write_atomically(ignore, text.encode("utf-8"))


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)  # left by a killed run of this pid number
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
