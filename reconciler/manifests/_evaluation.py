"""Evaluations across documents: names, dataset references, and each model's ``spec.evaluation``.

Runs after ``_resolve``: the datasets are loaded by then, and a model's
evaluation is attached to its resolved ``DesiredModel``. Every problem is a
located diagnostic, as everywhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifests._data import DataContext, load_dataset
from reconciler.manifests._resolve import Located, Resolution, _missing, _unique
from reconciler.manifests._yaml import RawDocument
from reconciler.spec import (
    DatasetManifest,
    DatasetRef,
    DatasetSpec,
    DesiredEvaluation,
    EvaluationManifest,
    EvaluationSpec,
    MetricCheck,
    TunedModelManifest,
)


def datasets_named_by(evaluations: list[Located[EvaluationManifest]]) -> set[str]:
    """Dataset names the Evaluation documents refer to (they count as used)."""
    return {
        item.manifest.spec.dataset
        for item in evaluations
        if isinstance(item.manifest.spec.dataset, str)
    }


def resolve_evaluations(
    *,
    out: Resolution,
    evaluations: list[Located[EvaluationManifest]],
    models: list[Located[TunedModelManifest]],
    datasets: list[Located[DatasetManifest]],
    context: DataContext,
    complete: bool,
    invalid_names: Mapping[str, set[str]],
) -> None:
    """Resolve every Evaluation and attach each model's to its ``DesiredModel`` in ``out``."""
    diagnostics: list[Diagnostic] = []
    eval_docs = _unique("Evaluation", evaluations, diagnostics)
    dataset_names = {item.manifest.metadata.name: item for item in datasets}
    resolved: dict[str, DesiredEvaluation | None] = {}
    for name, item in eval_docs.items():
        resolved[name] = _evaluation(
            name=name,
            spec=item.manifest.spec,
            doc=item.doc,
            path="spec",
            inline_dataset=f"{name}/evaluation",
            known_datasets=dataset_names,
            invalid_datasets=invalid_names.get("Dataset", set()),
            context=context,
            out=out,
        )
    used: set[str] = set()
    # Duplicate model names are reported by ``_resolve``; the first one counts.
    for model_name, model_item in _unique("TunedModel", models, []).items():
        chosen = model_item.manifest.spec.evaluation
        desired = out.models.get(model_name)
        if chosen is None or desired is None:
            continue
        evaluation: DesiredEvaluation | None = None
        if isinstance(chosen, EvaluationSpec):
            evaluation = _evaluation(
                name=f"{model_name}/inline",
                spec=chosen,
                doc=model_item.doc,
                path="spec.evaluation",
                inline_dataset=f"{model_name}/inline-evaluation",
                known_datasets=dataset_names,
                invalid_datasets=invalid_names.get("Dataset", set()),
                context=context,
                out=out,
            )
        elif chosen in eval_docs:
            used.add(chosen)
            evaluation = resolved[chosen]
        elif chosen not in invalid_names.get("Evaluation", ()):
            diagnostics.append(
                _missing("Evaluation", chosen, eval_docs, model_item.doc, "spec.evaluation")
            )
        if evaluation is not None:
            out.models[model_name] = dataclasses.replace(desired, evaluation=evaluation)
    if complete:
        for name, item in eval_docs.items():
            if name not in used:
                diagnostics.append(
                    Diagnostic(
                        item.doc.location("metadata.name"),
                        f"Evaluation `{name}` is not used by any TunedModel",
                        severity="warning",
                        field="metadata.name",
                    )
                )
    out.diagnostics.extend(diagnostics)


def _evaluation(
    *,
    name: str,
    spec: EvaluationSpec,
    doc: RawDocument,
    path: str,
    inline_dataset: str,
    known_datasets: Mapping[str, Any],
    invalid_datasets: set[str],
    context: DataContext,
    out: Resolution,
) -> DesiredEvaluation | None:
    """One evaluation with its dataset resolved; None when the dataset has an error."""
    ref: DatasetRef | None = None
    data = spec.dataset
    if isinstance(data, DatasetSpec):
        loaded = load_dataset(
            inline_dataset, data, doc, f"{path}.dataset", context, out.diagnostics
        )
        if loaded is not None:
            out.datasets[inline_dataset] = loaded
            ref = DatasetRef(name=inline_dataset, hash=loaded.hash, examples=len(loaded.examples))
    elif data in known_datasets:
        loaded = out.datasets.get(data)
        if loaded is not None:
            ref = DatasetRef(name=data, hash=loaded.hash, examples=len(loaded.examples))
    elif data not in invalid_datasets:
        out.diagnostics.append(_missing("Dataset", data, known_datasets, doc, f"{path}.dataset"))
    if ref is None:
        return None
    config = spec.generationConfig
    pairs: tuple[tuple[str, Any], ...] = ()
    if config is not None:
        values = config.model_dump(exclude_none=True)
        pairs = tuple(
            sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items())
        )
    return DesiredEvaluation(
        name=name,
        dataset=ref,
        metrics=tuple(
            MetricCheck(
                type=m.type,
                threshold=m.threshold,
                ignore_case=m.ignoreCase,
                ignore_whitespace=m.ignoreWhitespace,
                pattern=m.pattern,
            )
            for m in spec.metrics
        ),
        generation_config=pairs,
        gate=spec.gate,
    )
