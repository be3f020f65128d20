"""Find the Backend document of a repository without loading every manifest.

A command binds its state to a backend before it loads the manifests (the
state is checked at its first read), so it needs the ``Backend`` document
first. Only files whose bytes can hold one are parsed: a file without the
word ``Backend`` (and without a YAML escape that could spell it) has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import Diagnostic
from reconciler.manifests import _yaml
from reconciler.manifests._backend import backend_document
from reconciler.manifests._check import check_document
from reconciler.manifests._discover import discover_files
from reconciler.manifests._load import load_manifests
from reconciler.manifests._yaml import RawDocument, read_documents
from reconciler.repofiles import FileTooLarge, UnreadableFile, read_regular_file
from reconciler.spec import BackendManifest
from reconciler.target import NO_SETTINGS, BackendDocument, TargetSettings


def find_backend_document(
    paths: Sequence[Path],
    *,
    root: Path,
    allow_outside_root: bool = False,
    target_flags: TargetSettings = NO_SETTINGS,
    target_env: TargetSettings = NO_SETTINGS,
) -> BackendDocument | None:
    """The Backend document among the manifests at ``paths``, or None when they have none.

    Raises ``ManifestError`` (every problem of the manifests, as loading them
    reports it) when a file that may hold one cannot be read, or the document
    is invalid, or there are two. Paths that do not exist have no document.
    """
    found: list[tuple[RawDocument, BackendManifest | None]] = []
    problems: list[Diagnostic] = []
    for real, display in discover_files(
        paths, [], root=root, allow_outside_root=allow_outside_root
    ):
        try:
            data = read_regular_file(real, max_bytes=_yaml.MAX_FILE_BYTES, what="manifest file")
        except (FileTooLarge, UnreadableFile):
            continue  # holds no document loading would accept; loading says why
        if b"Backend" not in data and b"\\" not in data:
            continue
        docs, errors = read_documents(data, display=display)
        problems.extend(errors)
        for doc in docs:
            if not isinstance(doc.value, dict) or doc.value.get("kind") != "Backend":
                continue
            manifest, errors = check_document(doc)
            problems.extend(errors)
            found.append((doc, manifest if isinstance(manifest, BackendManifest) else None))
    document = backend_document(found, problems)
    if problems:
        # Report what loading would: every problem, not only this document's.
        load_manifests(
            paths,
            root=root,
            allow_outside_root=allow_outside_root,
            target_flags=target_flags,
            target_env=target_env,
        )
    return document
