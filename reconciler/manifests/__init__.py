"""Manifests (YAML) -> the desired state, with every problem located as ``file:line:column``.

    load_manifests(paths, root=...)     -> LoadResult; raises ManifestError on any error
    inspect_manifests(paths, root=...)  -> LoadResult with errors as diagnostics (validate)
    find_backend_document(paths, root=...) -> the Backend document, read cheaply (binding)

Reading (``_yaml``: safe YAML with positions), checking one document
(``_check``), resolving across documents (``_resolve``), the run (``_load``)
and its cache (``_cache``) are separate modules; import from here.
"""

from __future__ import annotations

from reconciler.manifests._cache import CACHE_DIR, MAX_CACHE_ENTRIES
from reconciler.manifests._discover import discover_files
from reconciler.manifests._load import (
    DatasetStats,
    LoadResult,
    inspect_manifests,
    load_manifests,
)
from reconciler.manifests._rules import did_you_mean
from reconciler.manifests._scan import find_backend_document
from reconciler.manifests._yaml import MAX_FILE_BYTES, MAX_VALUES_PER_FILE

__all__ = [
    "CACHE_DIR",
    "MAX_CACHE_ENTRIES",
    "MAX_FILE_BYTES",
    "MAX_VALUES_PER_FILE",
    "DatasetStats",
    "LoadResult",
    "did_you_mean",
    "discover_files",
    "find_backend_document",
    "inspect_manifests",
    "load_manifests",
]
