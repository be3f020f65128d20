"""The parsed-manifest cache under ``.reconciler/cache/``: bounded, repository-local, git-ignored.

Parsed documents are stored by the sha256 of the file's bytes, so an unchanged
file is never parsed twice. Three promises keep it from surprising anyone:

* it stays inside the repository's own ``.reconciler/``: if ``.reconciler`` or
  its ``cache`` directory is a symlink that leads elsewhere the cache is not
  used, and a manifest file outside the repository root is never copied into
  it (its contents are none of this repository's business);
* it never grows without bound: after a run that wrote new entries, the least
  recently used entries that this run did not touch are removed until at most
  ``MAX_CACHE_ENTRIES`` remain (entries are touched on every hit, so the
  modification time is the last use);
* it is never committed: creating the cache writes ``.reconciler/.gitignore``
  (``cache/``) unless the repository already has one there, and
  ``.reconciler/cache/.gitignore`` (``*``) in case that one does not ignore it.

Everything is best effort: any I/O problem just means a re-parse.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from reconciler.manifests._yaml import RawDocument

# Parsed documents keyed by the sha256 of the file's bytes; bump the version
# when the cached shape or the parser's rules change.
CACHE_DIR = Path(".reconciler", "cache", "manifests-v2")
# Entries kept after pruning. Each is one manifest file's parsed documents
# (typically a few KiB); a repository larger than this keeps every entry of the
# current run anyway, so the limit only evicts files no longer read (other
# branches, old edits).
MAX_CACHE_ENTRIES = 2_000
GITIGNORE_TEXT = "# written by reconciler: parsed-manifest cache, safe to delete\ncache/\n"


class ManifestCache:
    """Parsed documents by file hash, for one run. Build it with ``open_cache``."""

    def __init__(self, *, root: Path, directory: Path, max_entries: int) -> None:
        self.root = root  # resolved repository root
        self.directory = directory
        self.max_entries = max_entries
        self.used: set[str] = set()  # entry file names read or written by this run
        self.wrote = False

    def covers(self, real: Path) -> bool:
        """Whether a manifest file may be cached: only files inside the repository."""
        try:
            return real.resolve().is_relative_to(self.root)
        except OSError:
            return False

    def get(self, key: str, display: str) -> list[RawDocument] | None:
        entry = self.directory / f"{key}.json"
        try:
            raw = json.loads(entry.read_bytes())
            docs = [
                RawDocument(display, index, line, value, positions)
                for index, line, value, positions in raw["documents"]
            ]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self.used.add(entry.name)
        with contextlib.suppress(OSError):
            os.utime(entry)  # last use, for pruning
        return docs

    def put(self, key: str, docs: list[RawDocument]) -> None:
        payload = {"documents": [[d.index, d.line, d.value, d.positions] for d in docs]}
        target = self.directory / f"{key}.json"
        try:
            if not self.directory.is_dir():
                _make_directory(self.directory)
            temp = target.with_suffix(f".{os.getpid()}.tmp")
            temp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
            os.replace(temp, target)
        except (OSError, TypeError, ValueError):
            return
        self.used.add(target.name)
        self.wrote = True

    def prune(self) -> None:
        """Remove least recently used entries this run did not use, down to ``max_entries``.

        Only after a run that added entries: a run served wholly from the cache
        cannot have made it grow, and skipping the directory scan keeps it fast.
        """
        if not self.wrote:
            return
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        excess = len(entries) - self.max_entries
        if excess <= 0:
            return
        candidates = []
        for entry in entries:
            if entry.name in self.used or not entry.is_file(follow_symlinks=False):
                continue
            try:
                candidates.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
            except OSError:
                continue
        for _, path in sorted(candidates)[:excess]:
            try:
                os.unlink(path)
            except OSError:
                continue


def open_cache(root: Path, *, max_entries: int = MAX_CACHE_ENTRIES) -> ManifestCache | None:
    """The cache of the repository at ``root``, or None when it would live outside it."""
    try:
        real_root = root.resolve()
        directory = real_root / CACHE_DIR
        base = real_root / CACHE_DIR.parts[0]
        # A symlinked .reconciler (or cache) that leads out of the repository
        # would make the cache write elsewhere: then there is no cache.
        for part in (base, base / CACHE_DIR.parts[1], directory):
            if part.is_symlink():
                return None
        if not directory.resolve().is_relative_to(base):
            return None
    except OSError:
        return None
    return ManifestCache(root=real_root, directory=directory, max_entries=max_entries)


def _make_directory(directory: Path) -> None:
    """Create the cache directory and the ``.gitignore`` files that keep it out of commits."""
    cache = directory.parent  # .reconciler/cache
    base = cache.parent  # .reconciler
    base.mkdir(parents=True, exist_ok=True)
    for ignore, text in ((base / ".gitignore", GITIGNORE_TEXT), (cache / ".gitignore", "*\n")):
        if not ignore.exists():
            ignore.parent.mkdir(exist_ok=True)
            ignore.write_text(text, encoding="utf-8")
    directory.mkdir(parents=True, exist_ok=True)
