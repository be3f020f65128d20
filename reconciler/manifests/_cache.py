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
  ``.reconciler/cache/.gitignore`` (``*``) in case that one does not ignore it;
  each is written whole or not at all (a temporary file linked into place), so
  a full disk leaves no empty ``.gitignore`` behind;
* it is never trusted beyond this machine: every entry is sealed with a key
  kept outside the repository (``reconciler.sealed``), so an entry that a
  commit added (git-ignoring the cache does not stop a force-add) or another
  machine wrote fails the check and the file is parsed anew;
* it never writes through a symlink: a link where ``.reconciler``, the cache
  directories or an ignore file would be (even a dangling one) turns the cache
  off with a warning naming the link, and nothing is written.

Everything else is best effort: any I/O problem just means a re-parse.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path

from reconciler import sealed
from reconciler.manifests._yaml import RawDocument

# Parsed documents keyed by the sha256 of the file's bytes; bump the version
# when the cached shape or the parser's rules change.
CACHE_DIR = Path(".reconciler", "cache", "manifests-v3")
# Entries kept after pruning. Each is one manifest file's parsed documents
# (typically a few KiB); a repository larger than this keeps every entry of the
# current run anyway, so the limit only evicts files no longer read (other
# branches, old edits).
MAX_CACHE_ENTRIES = 2_000
GITIGNORE_TEXT = "# written by reconciler: parsed-manifest cache, safe to delete\ncache/\n"


class ManifestCache:
    """Parsed documents by file hash, for one run. Build it with ``open_cache``."""

    def __init__(
        self, *, root: Path, directory: Path, max_entries: int, refused: str | None = None
    ) -> None:
        self.root = root  # resolved repository root
        self.directory = directory
        self.max_entries = max_entries
        self.used: set[str] = set()  # entry file names read or written by this run
        self.wrote = False
        # Why the cache is off (a symlink where it would write), as a warning.
        self.refused = refused

    def covers(self, real: Path) -> bool:
        """Whether a manifest file may be cached: only files inside the repository."""
        if self.refused is not None:
            return False
        return Path(os.path.realpath(real)).is_relative_to(self.root)

    def get(self, key: str, display: str) -> list[RawDocument] | None:
        entry = self.directory / f"{key}.json"
        try:
            data = sealed.unseal(_read_entry(entry))
            if data is None:
                return None  # not written by this user on this machine
            raw = json.loads(data)
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
            text = sealed.seal(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
            if text is None:
                return  # no key can be kept here: no cache
            if not self.directory.is_dir():
                _make_directory(self.directory)
            _write_whole(target, text, replace=True)
        except LinkFound as link:
            self.refused = _refusal(link.path, self.root)
            return
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
    """The cache of the repository at ``root`` (off, saying why, where a symlink is in the way)."""
    real_root = Path(os.path.realpath(root))
    directory = real_root / CACHE_DIR
    base = real_root / CACHE_DIR.parts[0]
    refused = None
    # A symlinked .reconciler (or cache) would make the cache write where the
    # link leads, perhaps out of the repository: then there is no cache.
    for part in (base, base / CACHE_DIR.parts[1], directory):
        if part.is_symlink():
            refused = _refusal(part, real_root)
            break
    return ManifestCache(
        root=real_root, directory=directory, max_entries=max_entries, refused=refused
    )


def _read_entry(entry: Path) -> bytes:
    """An entry's bytes; never through a symlink, never from a FIFO or device."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(entry, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{entry} is not a regular file")
        return handle.read()


class LinkFound(Exception):
    """A symlink where the cache would create or replace a file or directory."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def _refusal(link: Path, root: Path) -> str:
    shown = link.relative_to(root).as_posix() if link.is_relative_to(root) else str(link)
    return (
        f"`{shown}` is a symlink: the manifest cache is not used, so that nothing is "
        "written where the link leads"
    )


def _make_directory(directory: Path) -> None:
    """Create the cache directory, and first the ``.gitignore`` files that keep it out of commits.

    ``LinkFound`` where a symlink is in the way; nothing is written through it.
    """
    cache = directory.parent  # .reconciler/cache
    base = cache.parent  # .reconciler
    _make_one_directory(base)
    _write_whole(base / ".gitignore", GITIGNORE_TEXT, replace=False)
    _make_one_directory(cache)
    _write_whole(cache / ".gitignore", "*\n", replace=False)
    _make_one_directory(directory)


def _make_one_directory(path: Path) -> None:
    try:
        path.mkdir()
    except FileExistsError:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise LinkFound(path) from None


def _write_whole(target: Path, text: str | bytes, *, replace: bool) -> None:
    """Write ``target`` whole or not at all, never through a symlink.

    The text goes to a new temporary file (``O_EXCL``: never an existing file
    or link) and is then moved into place: replacing ``target`` (a rename acts
    on a link itself, not on what it points at), or, with ``replace=False``,
    only if nothing is there yet (a hard link fails if any entry, even a
    dangling symlink, exists). A failed write (a full disk) removes the
    temporary file, so no empty or partial file is left.
    """
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISLNK(existing.st_mode):
        raise LinkFound(target)
    if existing is not None and not replace:
        return  # the repository's own file: left alone
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
        if replace:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)
            except FileExistsError:
                if stat.S_ISLNK(os.lstat(target).st_mode):
                    raise LinkFound(target) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
