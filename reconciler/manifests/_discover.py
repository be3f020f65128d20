"""Which files are the manifests: the paths given, directories searched recursively, in order.

The files found are the whole desired set, so a file or directory that is
not read must never be silent: its models would be planned for deletion.
Symlinks (to files and to directories alike) follow the rule data files
follow: a link that resolves inside the repository root is followed; one
that leads outside it is a located error unless ``--allow-outside-root`` is
given; a broken link, a loop of links or a directory link back to one of its
own parents is an error too. Dot-directories (``.git``, ``.reconciler``) and
dot-files are skipped on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import Diagnostic, SourceLocation
from reconciler.repofiles import (
    OUTSIDE_ROOT_HINT,
    confine,
    lexically_inside,
    link_text,
    real_path,
    resolved_root,
)

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass
class _Walk:
    root: Path  # as given (links not followed)
    bases: list[Path]  # resolved root, then resolved paths given outside it
    allow_outside_root: bool
    diagnostics: list[Diagnostic]
    found: list[tuple[Path, str]] = field(default_factory=list)
    seen: set[Path] = field(default_factory=set)  # real paths of the files found
    walked: set[Path] = field(default_factory=set)  # real directories searched (links may repeat)

    def error(self, path: Path, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(SourceLocation(path.as_posix()), message, hint=hint))

    def add(self, path: Path, real: Path) -> None:
        if real not in self.seen:
            self.seen.add(real)
            self.found.append((path, path.as_posix()))


def discover_files(
    paths: Sequence[Path],
    diagnostics: list[Diagnostic],
    *,
    root: Path,
    allow_outside_root: bool = False,
) -> list[tuple[Path, str]]:
    """(path to read, path as shown) of every manifest file, sorted, each once.

    A path given outside the repository root is the user's own choice and is
    read; links met under it may lead back into the root or stay under it.
    """
    real_root = resolved_root(root)
    walk = _Walk(root, [real_root], allow_outside_root, diagnostics)
    for given in paths:
        if not lexically_inside(given, root):
            real, _ = real_path(given)
            if real is not None:
                walk.bases.append(real)
    for given in paths:
        link = given.is_symlink()
        target = _follow(walk, given, link=link)
        if target is None:
            continue
        if target.is_dir():
            before = len(walk.found)
            _walk_directory(walk, given, target, ancestors=frozenset({target}))
            if len(walk.found) == before:
                diagnostics.append(
                    Diagnostic(
                        SourceLocation(str(given)),
                        "no manifest files (*.yaml, *.yml) in this directory",
                        severity="warning",
                    )
                )
        elif target.is_file():
            walk.add(given, target)
        else:
            walk.error(given, "not a regular file or directory; manifests are read from files")
    return walk.found


def _follow(walk: _Walk, path: Path, *, link: bool) -> Path | None:
    """The real path behind ``path``, or None after reporting why it is not read."""
    confined = confine(path, bases=walk.bases, allow_outside_root=walk.allow_outside_root)
    if confined.real is None:
        walk.error(path, confined.problem or "cannot be read")
        return None
    if confined.outside and link:
        walk.error(
            path,
            f"symlink to `{link_text(path)}`, outside the repository root: "
            "its manifests are not read",
            OUTSIDE_ROOT_HINT,
        )
        return None
    if confined.outside and lexically_inside(path, walk.root):
        # A link further up (a linked parent directory) leads out of the root.
        walk.error(
            path,
            f"leads through a symlink to `{confined.real.as_posix()}`, outside the "
            "repository root: its manifests are not read",
            OUTSIDE_ROOT_HINT,
        )
        return None
    return confined.real


def _walk_directory(
    walk: _Walk, directory: Path, real: Path, *, ancestors: frozenset[Path]
) -> None:
    if real in walk.walked:
        return  # reached again through another link: its files are already found
    walk.walked.add(real)
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        walk.error(directory, f"cannot read directory: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        is_manifest = path.suffix in MANIFEST_SUFFIXES
        if entry.is_symlink():
            _walk_link(walk, path, is_manifest=is_manifest, ancestors=ancestors | {real})
        elif entry.is_dir(follow_symlinks=False):
            _walk_directory(
                walk, path, real / entry.name, ancestors=ancestors | {real / entry.name}
            )
        elif is_manifest and entry.is_file(follow_symlinks=False):
            walk.add(path, real / entry.name)
        elif is_manifest:
            walk.error(path, "not a regular file (a FIFO, socket or device); it is not read")


def _walk_link(walk: _Walk, path: Path, *, is_manifest: bool, ancestors: frozenset[Path]) -> None:
    """A symlink met while searching: a manifest file, a directory, or something to leave alone."""
    real, problem = real_path(path)
    if real is None:
        # A broken link named like a manifest, or like a directory (no suffix),
        # would silently drop models; one named like anything else is not ours.
        if is_manifest or not path.suffix:
            walk.error(path, problem or "cannot be read")
        return
    if not (is_manifest or real.is_dir()):
        return
    target = _follow(walk, path, link=True)
    if target is None:
        return
    if target.is_dir():
        if any(ancestor.is_relative_to(target) for ancestor in ancestors):
            walk.error(path, "symlink loop: the link leads back to a directory that contains it")
            return
        _walk_directory(walk, path, target, ancestors=ancestors | {target})
    elif target.is_file():
        walk.add(path, target)
    else:
        walk.error(path, "symlink to something that is not a regular file; it is not read")
