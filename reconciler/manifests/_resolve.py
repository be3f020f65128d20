"""Across documents: unique names, references, cycles, datasets -> resolved ``DesiredModel`` values.

Everything here works on documents that passed their own checks; each
problem found is a located diagnostic, and all of them are collected before
the caller decides to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from reconciler.errors import Diagnostic
from reconciler.manifests._data import DataContext, load_dataset
from reconciler.manifests._rules import did_you_mean
from reconciler.manifests._yaml import RawDocument
from reconciler.spec import (
    AppliedSpec,
    DatasetManifest,
    DatasetRef,
    DatasetSpec,
    DesiredModel,
    EvaluationManifest,
    Hyperparameters,
    HyperparametersManifest,
    HyperparametersSpec,
    Lifecycle,
    LoadedDataset,
    TunedModelManifest,
)

TUNED_MODELS_PREFIX = "tunedModels/"
M = TypeVar("M", TunedModelManifest, DatasetManifest, HyperparametersManifest, EvaluationManifest)


@dataclass(frozen=True)
class Located(Generic[M]):
    """A validated manifest with the document it came from."""

    doc: RawDocument
    manifest: M


@dataclass
class Resolution:
    models: dict[str, DesiredModel] = field(default_factory=dict)
    datasets: dict[str, LoadedDataset] = field(default_factory=dict)
    hyperparameter_sets: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)


def resolve(
    *,
    models: list[Located[TunedModelManifest]],
    datasets: list[Located[DatasetManifest]],
    hyperparameters: list[Located[HyperparametersManifest]],
    context: DataContext,
    complete: bool = True,
    invalid_names: Mapping[str, set[str]] | None = None,
    also_used_datasets: set[str] | None = None,
) -> Resolution:
    """Resolve names and references into desired models; collect every problem.

    ``complete`` is False when some documents were invalid and left out:
    then a Dataset that looks unused may be used by one of them, so no
    "unused" warning is given. ``also_used_datasets``: Dataset names other
    kinds (Evaluations) refer to.
    """
    out = Resolution()
    invalid = invalid_names or {}
    model_docs = _unique("TunedModel", models, out.diagnostics)
    dataset_docs = _unique("Dataset", datasets, out.diagnostics)
    hyper_docs = _unique("Hyperparameters", hyperparameters, out.diagnostics)
    out.hyperparameter_sets = len(hyper_docs)

    for name, dataset_item in dataset_docs.items():
        loaded = load_dataset(
            name, dataset_item.manifest.spec, dataset_item.doc, "spec", context, out.diagnostics
        )
        if loaded is not None:
            out.datasets[name] = loaded
    used_datasets: set[str] = set(also_used_datasets or ())
    used_hypers: set[str] = set()

    for name, model_item in model_docs.items():
        doc, spec = model_item.doc, model_item.manifest.spec
        task = "spec.tuningTask"
        refs = {
            field: _dataset_ref(
                value,
                inline_name=f"{name}/{inline}",
                path=f"{task}.{field}",
                doc=doc,
                known=dataset_docs,
                invalid=invalid.get("Dataset", set()),
                used=used_datasets,
                context=context,
                out=out,
            )
            for field, inline, value in (
                ("trainingData", "inline", spec.tuningTask.trainingData),
                ("validationData", "validation", spec.tuningTask.validationData),
            )
            if value is not None
        }
        ref = refs.get("trainingData")
        validation = refs.get("validationData")

        hyper = Hyperparameters()
        chosen = spec.tuningTask.hyperparameters
        if isinstance(chosen, HyperparametersSpec):
            hyper = _hyperparameters(chosen)
        elif chosen is not None and chosen in hyper_docs:
            used_hypers.add(chosen)
            hyper = _hyperparameters(hyper_docs[chosen].manifest.spec)
        elif chosen is not None and chosen not in invalid.get("Hyperparameters", ()):
            out.diagnostics.append(
                _missing("Hyperparameters", chosen, hyper_docs, doc, f"{task}.hyperparameters")
            )

        source, depends_on = _source(
            spec.tunedModelSource,
            model_docs,
            invalid.get("TunedModel", set()),
            doc,
            out.diagnostics,
        )
        lifecycle = Lifecycle()
        if spec.lifecycle is not None:
            lifecycle = Lifecycle(
                prevent_destroy=spec.lifecycle.preventDestroy,
                ignore_changes=frozenset(spec.lifecycle.ignoreChanges),
                create_before_destroy=spec.lifecycle.replacement == "createBeforeDestroy",
            )
        out.models[name] = DesiredModel(
            name=name,
            spec=AppliedSpec(
                baseModel=spec.baseModel,
                tunedModelSource=source,
                displayName=spec.displayName,
                description=spec.description,
                temperature=spec.temperature,
                topP=spec.topP,
                topK=spec.topK,
                readerProjectNumbers=tuple(str(n) for n in spec.readerProjectNumbers or ()),
                hyperparameters=hyper,
                dataset=ref,
                validationDataset=validation,
                labels=dict(spec.labels or {}),
            ),
            location=doc.location("metadata.name"),
            lifecycle=lifecycle,
            depends_on=depends_on,
        )

    out.diagnostics.extend(_cycles(out.models, model_docs))
    if not complete:
        return out
    # A duplicate TunedModel is an error already; what it names is not unused.
    for model_item in models:
        named = model_item.manifest.spec.tuningTask
        for data in (named.trainingData, named.validationData):
            if isinstance(data, str):
                used_datasets.add(data)
        if isinstance(named.hyperparameters, str):
            used_hypers.add(named.hyperparameters)
    unused = [
        ("Dataset", name, item.doc)
        for name, item in dataset_docs.items()
        if name not in used_datasets
    ] + [
        ("Hyperparameters", name, item.doc)
        for name, item in hyper_docs.items()
        if name not in used_hypers
    ]
    for kind, name, unused_doc in unused:
        out.diagnostics.append(
            Diagnostic(
                unused_doc.location("metadata.name"),
                f"{kind} `{name}` is not used by any TunedModel",
                severity="warning",
                field="metadata.name",
            )
        )
    return out


def _unique(
    kind: str, items: list[Located[M]], diagnostics: list[Diagnostic]
) -> dict[str, Located[M]]:
    """Names are unique per kind; a duplicate names both places."""
    seen: dict[str, Located[M]] = {}
    for item in items:
        name = item.manifest.metadata.name
        first = seen.get(name)
        if first is None:
            seen[name] = item
            continue
        diagnostics.append(
            Diagnostic(
                item.doc.location("metadata.name"),
                f"duplicate {kind} `{name}`: also defined at {first.doc.location('metadata.name')}",
                field="metadata.name",
            )
        )
    return seen


def _missing(
    kind: str, name: str, known: Mapping[str, object], doc: RawDocument, path: str
) -> Diagnostic:
    return Diagnostic(
        doc.location(path),
        f"no {kind} named `{name}` in the manifests",
        field=path,
        hint=did_you_mean(name, known),
    )


def _source(
    source: str | None,
    model_docs: dict[str, Located[TunedModelManifest]],
    invalid: set[str],
    doc: RawDocument,
    diagnostics: list[Diagnostic],
) -> tuple[str | None, str | None]:
    """``tunedModelSource`` -> (``tunedModels/<id>``, managed dependency or None)."""
    if source is None:
        return None, None
    if source.startswith(TUNED_MODELS_PREFIX):
        return source, None
    if source in model_docs:
        return f"{TUNED_MODELS_PREFIX}{source}", source
    if source in invalid:
        return f"{TUNED_MODELS_PREFIX}{source}", None
    diagnostics.append(
        Diagnostic(
            doc.location("spec.tunedModelSource"),
            f"no TunedModel named `{source}` in the manifests",
            field="spec.tunedModelSource",
            hint=did_you_mean(source, model_docs)
            or f"for a model not managed here write `{TUNED_MODELS_PREFIX}{source}`",
        )
    )
    return None, None


def _cycles(
    models: dict[str, DesiredModel], docs: dict[str, Located[TunedModelManifest]]
) -> list[Diagnostic]:
    """Each ``tunedModelSource`` cycle once, named in order: ``a -> b -> a``."""
    found: list[Diagnostic] = []
    done: set[str] = set()
    for start in sorted(models):
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = models[node].depends_on if node in models else None
        if node is not None and node in on_path:
            cycle = path[path.index(node) :]
            first = min(cycle)
            turn = cycle.index(first)
            cycle = cycle[turn:] + cycle[:turn]
            doc = docs[first].doc
            found.append(
                Diagnostic(
                    doc.location("spec.tunedModelSource"),
                    "tunedModelSource cycle: " + " -> ".join([*cycle, first]),
                    field="spec.tunedModelSource",
                )
            )
        done.update(path)
    return found


def _hyperparameters(spec: HyperparametersSpec) -> Hyperparameters:
    return Hyperparameters(
        epochCount=spec.epochCount,
        batchSize=spec.batchSize,
        learningRate=spec.learningRate,
        learningRateMultiplier=spec.learningRateMultiplier,
        adapterSize=spec.adapterSize,
    )


def _dataset_ref(
    data: str | DatasetSpec,
    *,
    inline_name: str,
    path: str,
    doc: RawDocument,
    known: Mapping[str, Located[DatasetManifest]],
    invalid: set[str],
    used: set[str],
    context: DataContext,
    out: Resolution,
) -> DatasetRef | None:
    """A model's dataset (training or validation), loaded and reduced to its identity.

    Inline data is loaded as dataset ``inline_name``; a name must be a Dataset
    document's (an invalid one already has its error). None when it cannot be
    loaded; every problem goes to ``out.diagnostics``.
    """
    if isinstance(data, DatasetSpec):
        loaded = load_dataset(inline_name, data, doc, path, context, out.diagnostics)
        if loaded is None:
            return None
        out.datasets[inline_name] = loaded
        return DatasetRef(name=inline_name, hash=loaded.hash, examples=len(loaded.examples))
    if data in known:
        used.add(data)
        named = out.datasets.get(data)
        if named is None:
            return None
        return DatasetRef(name=data, hash=named.hash, examples=len(named.examples))
    if data not in invalid:
        out.diagnostics.append(_missing("Dataset", data, known, doc, path))
    return None
