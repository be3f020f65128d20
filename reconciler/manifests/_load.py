"""Load a manifest repository: find files, read them (through a cache), check, resolve.

``inspect_manifests`` never raises for bad manifests: it returns every
diagnostic with what could be loaded, for ``reconciler validate``.
``load_manifests`` is the same, but raises ``ManifestError`` when there is
any error, for the commands that go on to plan.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import Diagnostic, ManifestError, SourceLocation
from reconciler.manifests import _yaml
from reconciler.manifests._backend import backend_document, backend_rules, declared_type
from reconciler.manifests._cache import CACHE_DIR, ManifestCache, open_cache
from reconciler.manifests._check import check_document
from reconciler.manifests._data import DataContext
from reconciler.manifests._discover import discover_files
from reconciler.manifests._evaluation import datasets_named_by, resolve_evaluations
from reconciler.manifests._resolve import Located, resolve
from reconciler.manifests._yaml import RawDocument, read_documents
from reconciler.repofiles import FileTooLarge, UnreadableFile, read_regular_file
from reconciler.spec import (
    BackendManifest,
    DatasetManifest,
    DesiredState,
    EvaluationManifest,
    HyperparametersManifest,
    TunedModelManifest,
)
from reconciler.target import BACKEND_TYPES, NO_SETTINGS, TargetSettings, backend_kind


@dataclass(frozen=True)
class DatasetStats:
    """What a dataset weighs: for `validate` summaries and tuning-time estimates."""

    name: str
    hash: str
    examples: int
    max_input_chars: int
    max_output_chars: int
    steps: dict[str, int]  # model name -> estimated tuning steps on this dataset


@dataclass(frozen=True)
class LoadResult:
    desired: DesiredState
    diagnostics: list[Diagnostic]
    files: int = 0
    documents: int = 0
    dataset_stats: list[DatasetStats] = field(default_factory=list)
    # Documents written per kind, valid or not (inline datasets counted with
    # Datasets): the summary counts what the user wrote, not only what passed.
    declared: dict[str, int] = field(default_factory=dict)
    # The backend whose field rules were applied (gemini | vertex).
    backend: str = "gemini"

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity != "error"]

    @property
    def models(self) -> int:
        return self.declared.get("TunedModel", len(self.desired.models))

    @property
    def datasets(self) -> int:
        return self.declared.get("Dataset", len(self.desired.datasets))

    @property
    def examples(self) -> int:
        return sum(len(d.examples) for d in self.desired.datasets.values())

    @property
    def evaluations(self) -> int:
        """Distinct evaluations the models use (an Evaluation shared by two counts once)."""
        return len({m.evaluation.name for m in self.desired.models.values() if m.evaluation})

    @property
    def hyperparameter_sets(self) -> int:
        return self.declared.get("Hyperparameters", self.desired.hyperparameter_sets)

    def summary(self) -> dict[str, Any]:
        """The counts `validate` prints, as JSON-ready values."""
        return {
            "files": self.files,
            "documents": self.documents,
            "models": self.models,
            "datasets": self.datasets,
            "examples": self.examples,
            "hyperparameterSets": self.hyperparameter_sets,
            "evaluations": self.evaluations,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "datasetStats": [
                {
                    "name": s.name,
                    "hash": s.hash,
                    "examples": s.examples,
                    "maxInputChars": s.max_input_chars,
                    "maxOutputChars": s.max_output_chars,
                    "estimatedSteps": s.steps,
                }
                for s in self.dataset_stats
            ],
        }


def load_manifests(
    paths: Sequence[Path],
    *,
    root: Path,
    allow_outside_root: bool = False,
    use_cache: bool = True,
    target_flags: TargetSettings = NO_SETTINGS,
    target_env: TargetSettings = NO_SETTINGS,
) -> LoadResult:
    """Load and resolve manifests; raise ``ManifestError`` listing every error if any.

    ``target_flags`` and ``target_env``: the backend settings of the command
    line and the environment; with the Backend document they choose the
    backend whose field rules apply (``reconciler.target.backend_kind``).
    """
    result = inspect_manifests(
        paths,
        root=root,
        allow_outside_root=allow_outside_root,
        use_cache=use_cache,
        target_flags=target_flags,
        target_env=target_env,
    )
    if result.errors:
        raise ManifestError(result.diagnostics, paths=[str(p) for p in paths])
    return result


def inspect_manifests(
    paths: Sequence[Path],
    *,
    root: Path,
    allow_outside_root: bool = False,
    use_cache: bool = True,
    target_flags: TargetSettings = NO_SETTINGS,
    target_env: TargetSettings = NO_SETTINGS,
) -> LoadResult:
    """Like ``load_manifests`` but returns errors as diagnostics instead of raising."""
    with _without_cyclic_gc():
        return _inspect(
            paths,
            root=root,
            allow_outside_root=allow_outside_root,
            use_cache=use_cache,
            target=(target_flags, target_env),
        )


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading.

    Loading allocates hundreds of thousands of small, acyclic objects; each
    allocation burst triggers a full-heap collection that finds nothing, which
    tripled the time to load 10,000 manifests (bench/manifests_bench.py).
    Reference counting still frees everything; collection resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _inspect(
    paths: Sequence[Path],
    *,
    root: Path,
    allow_outside_root: bool,
    use_cache: bool,
    target: tuple[TargetSettings, TargetSettings],
) -> LoadResult:
    diagnostics: list[Diagnostic] = []
    files = discover_files(paths, diagnostics, root=root, allow_outside_root=allow_outside_root)
    cache = open_cache(root) if use_cache else None
    real_files: dict[str, Path] = {}
    models: list[Located[TunedModelManifest]] = []
    datasets: list[Located[DatasetManifest]] = []
    hypers: list[Located[HyperparametersManifest]] = []
    evaluations: list[Located[EvaluationManifest]] = []
    backends: list[tuple[RawDocument, BackendManifest | None]] = []  # valid or not
    per_backend: list[tuple[str, RawDocument]] = []  # documents with backend-specific fields
    documents = 0
    empty_files: list[Diagnostic] = []  # reported after resolving: a warning must not hide others
    invalid = False
    invalid_names: dict[str, set[str]] = {}
    declared = dict.fromkeys(
        ("TunedModel", "Dataset", "Hyperparameters", "Evaluation", "Backend"), 0
    )
    for real, display in files:
        real_files[display] = real
        docs, problems = _read(real, display, cache)
        diagnostics.extend(problems)
        documents += len(docs)
        if not docs and not problems:
            # Likely a file whose content was commented out or never saved:
            # worth a word, but not a reason to fail the run.
            empty_files.append(
                Diagnostic(SourceLocation(display), "no documents", severity="warning")
            )
        for doc in docs:
            kind = _count_declared(doc, declared)
            if kind in ("TunedModel", "Hyperparameters"):
                per_backend.append((kind, doc))
            manifest, found = check_document(doc)
            if kind == "Backend":
                backends.append((doc, manifest if isinstance(manifest, BackendManifest) else None))
            diagnostics.extend(found)
            if manifest is None:
                invalid = True
                _note_invalid(doc, invalid_names)
            if isinstance(manifest, TunedModelManifest):
                models.append(Located(doc, manifest))
            elif isinstance(manifest, DatasetManifest):
                datasets.append(Located(doc, manifest))
            elif isinstance(manifest, HyperparametersManifest):
                hypers.append(Located(doc, manifest))
            elif isinstance(manifest, EvaluationManifest):
                evaluations.append(Located(doc, manifest))
    backend_doc = backend_document(backends, diagnostics)
    flags, env = target
    backend = backend_kind(flags=flags, env=env, document=backend_doc)
    if backend_doc is None and flags.get("backend") is None and backends:
        backend = declared_type(backends[0][0])  # an invalid one still says which rules apply
    if backend in BACKEND_TYPES:
        for kind, doc in per_backend:
            found = backend_rules(backend, kind, doc.value, doc)
            if found:
                diagnostics.extend(found)
                invalid = True
                _note_invalid(doc, invalid_names)
                models = [m for m in models if m.doc is not doc]
                hypers = [h for h in hypers if h.doc is not doc]
    context = DataContext(real_files=real_files, root=root, allow_outside_root=allow_outside_root)
    resolved = resolve(
        models=models,
        datasets=datasets,
        hyperparameters=hypers,
        context=context,
        complete=not invalid and not diagnostics,
        invalid_names=invalid_names,
        also_used_datasets=datasets_named_by(evaluations),
    )
    resolve_evaluations(
        out=resolved,
        evaluations=evaluations,
        models=models,
        datasets=datasets,
        context=context,
        complete=not invalid and not diagnostics,
        invalid_names=invalid_names,
    )
    diagnostics.extend(resolved.diagnostics)
    diagnostics.extend(empty_files)
    if cache is not None:
        cache.prune()
        if cache.refused is not None:
            where = SourceLocation(CACHE_DIR.parts[0])
            diagnostics.append(Diagnostic(where, cache.refused, severity="warning"))
    diagnostics.sort(key=_reading_order)
    desired = DesiredState(
        models=resolved.models,
        datasets=resolved.datasets,
        hyperparameter_sets=resolved.hyperparameter_sets,
        warnings=tuple(str(d) for d in diagnostics if d.severity != "error"),
        backend=backend_doc,
    )
    return LoadResult(
        desired=desired,
        diagnostics=diagnostics,
        files=len(files),
        documents=documents,
        dataset_stats=_stats(desired),
        declared=declared,
        backend=backend,
    )


def _reading_order(diagnostic: Diagnostic) -> tuple[str, int, int]:
    """By file, then line; whole-file notes (line 0, e.g. "N more problems") last in their file."""
    loc = diagnostic.location
    return (loc.file, loc.line or 1 << 62, loc.column)


# Where a document may hold an inline dataset (a mapping instead of a Dataset's name).
_INLINE_DATASETS: dict[str, tuple[tuple[str, ...], ...]] = {
    "TunedModel": (
        ("spec", "tuningTask", "trainingData"),
        ("spec", "tuningTask", "validationData"),
        ("spec", "evaluation", "dataset"),
    ),
    "Evaluation": (("spec", "dataset"),),
}


def _count_declared(doc: RawDocument, declared: dict[str, int]) -> str | None:
    """Count a document by the kind it says it is (an inline dataset counts as a Dataset).

    Returns that kind (None when it names none of the kinds).
    """
    value = doc.value
    kind = value.get("kind") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in declared:
        return None
    declared[kind] += 1
    for path in _INLINE_DATASETS.get(kind, ()):
        inner: Any = value
        for key in path:
            inner = inner.get(key) if isinstance(inner, dict) else None
        if isinstance(inner, dict):
            declared["Dataset"] += 1
    return kind


def _note_invalid(doc: RawDocument, invalid_names: dict[str, set[str]]) -> None:
    """Remember an invalid document's kind and name, so references to it raise no second error."""
    value = doc.value
    if isinstance(value, dict) and isinstance(value.get("metadata"), dict):
        name = value["metadata"].get("name")
        if isinstance(name, str):
            invalid_names.setdefault(str(value.get("kind")), set()).add(name)


def _read(
    real: Path, display: str, cache: ManifestCache | None
) -> tuple[list[RawDocument], list[Diagnostic]]:
    try:
        data = read_regular_file(real, max_bytes=_yaml.MAX_FILE_BYTES, what="manifest file")
    except FileTooLarge as exc:
        return [], [Diagnostic(SourceLocation(display), _yaml.too_large_message(exc.size))]
    except UnreadableFile as exc:
        return [], [Diagnostic(SourceLocation(display), str(exc))]
    if cache is None or not cache.covers(real):
        return read_documents(data, display=display)
    key = hashlib.sha256(data).hexdigest()
    cached = cache.get(key, display)
    if cached is not None:
        return cached, []
    docs, problems = read_documents(data, display=display)
    if not problems:
        cache.put(key, docs)
    return docs, problems


def _stats(desired: DesiredState) -> list[DatasetStats]:
    steps: dict[str, dict[str, int]] = {}
    for model in desired.models.values():
        ref = model.spec.dataset
        if ref is not None:
            steps.setdefault(ref.name, {})[model.name] = model.estimated_steps
    return [
        DatasetStats(
            name=name,
            hash=dataset.hash,
            examples=len(dataset.examples),
            max_input_chars=dataset.max_input_chars,
            max_output_chars=dataset.max_output_chars,
            steps=steps.get(name, {}),
        )
        for name, dataset in sorted(desired.datasets.items())
    ]
