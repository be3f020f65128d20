"""The Backend document, and the fields each backend accepts, as located diagnostics.

A repository has at most one ``Backend`` document; it chooses the backend
unless a flag says otherwise (``reconciler.target``). Some TunedModel fields
exist on one backend only; which backend applies is known only once every
document has been read, so these rules run after the per-document checks,
on the raw documents (a type error elsewhere in a document hides none).
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifests._yaml import RawDocument
from reconciler.spec import BackendManifest
from reconciler.target import (
    GEMINI,
    MAX_LABELS,
    VERTEX,
    BackendDocument,
    bucket_problem,
    label_key_problem,
    label_value_problem,
    location_problem,
    project_problem,
    vertex_model_problem,
)

# TunedModel fields of one backend only: (path in the document, hint).
VERTEX_ONLY: tuple[tuple[str, str | None], ...] = (
    ("spec.labels", None),
    ("spec.tuningTask.validationData", None),
    ("spec.tuningTask.hyperparameters.adapterSize", None),
)
GEMINI_ONLY: tuple[tuple[str, str | None], ...] = (
    ("spec.temperature", None),
    ("spec.topP", None),
    ("spec.topK", None),
    ("spec.readerProjectNumbers", None),
    ("spec.tunedModelSource", "on Vertex AI a model is tuned from a `baseModel`"),
    ("spec.tuningTask.hyperparameters.learningRate", "use `learningRateMultiplier`"),
    ("spec.tuningTask.hyperparameters.batchSize", None),
)
# The same fields in a Hyperparameters document.
_HYPER_FIELDS = {GEMINI: ("learningRate", "batchSize"), VERTEX: ("adapterSize",)}
_DOC_FIELDS = {"project": "project", "location": "location", "dataset_bucket": "datasetBucket"}
_CHECKS = {
    "project": project_problem,
    "location": location_problem,
    "dataset_bucket": bucket_problem,
}


def backend_document(
    docs: list[tuple[RawDocument, BackendManifest | None]], diagnostics: list[Diagnostic]
) -> BackendDocument | None:
    """The repository's Backend document (the first one; None if it is invalid).

    ``docs``: every Backend document, with its manifest when it is valid. A
    second one, valid or not, is an error naming both places.
    """
    if not docs:
        return None
    first_doc, first = docs[0]
    for doc, _ in docs[1:]:
        diagnostics.append(
            Diagnostic(
                doc.location("kind"),
                "a second Backend document: a repository has at most one, and "
                f"{first_doc.location('kind')} already chooses the backend",
                field="kind",
            )
        )
    if first is None:
        return None
    spec = first.spec
    places = {"backend": first_doc.location("spec.type")}
    for name, key in _DOC_FIELDS.items():
        if f"spec.{key}" in first_doc.positions:
            places[name] = first_doc.location(f"spec.{key}")
    return BackendDocument(
        name=first.metadata.name,
        type=spec.type,
        location=first_doc.location("metadata.name"),
        project=spec.project,
        region=spec.location,
        dataset_bucket=spec.datasetBucket,
        places=places,
    )


def declared_type(doc: RawDocument) -> str:
    """The ``spec.type`` a Backend document writes, valid or not ("" when none)."""
    spec = doc.value.get("spec") if isinstance(doc.value, dict) else None
    kind = spec.get("type") if isinstance(spec, dict) else None
    return kind if isinstance(kind, str) else ""


def backend_document_rules(value: dict[str, Any], doc: RawDocument) -> list[Diagnostic]:
    """A Backend document's own rules: vertex settings well-formed, and only on vertex."""
    spec = value.get("spec")
    if not isinstance(spec, dict):
        return []
    found: list[Diagnostic] = []
    kind = spec.get("type")
    for name, key in _DOC_FIELDS.items():
        setting = spec.get(key)
        path = f"spec.{key}"
        if setting is None or not isinstance(setting, str):
            continue
        if kind == GEMINI:
            found.append(
                Diagnostic(
                    doc.location(path, key=True),
                    f"`{path}` is only for `type: vertex`",
                    field=path,
                )
            )
            continue
        problem = _CHECKS[name](setting)
        if problem is not None:
            shown = setting if len(setting) <= 80 else setting[:80] + "..."
            found.append(
                Diagnostic(doc.location(path), f"`{path}` {problem}, got `{shown}`", field=path)
            )
    return found


def backend_rules(backend: str, kind: str, value: Any, doc: RawDocument) -> list[Diagnostic]:
    """The fields of a TunedModel or Hyperparameters document the ``backend`` does not have."""
    if not isinstance(value, dict) or not isinstance(value.get("spec"), dict):
        return []
    spec: dict[str, Any] = value["spec"]
    if kind == "Hyperparameters":
        return [
            _other_backend(doc, f"spec.{name}", backend, None)
            for name in _HYPER_FIELDS[GEMINI if backend == VERTEX else VERTEX]
            if spec.get(name) is not None
        ]
    if kind != "TunedModel":
        return []
    found: list[Diagnostic] = []
    for path, hint in VERTEX_ONLY if backend == GEMINI else GEMINI_ONLY:
        if _get(value, path) is not None:
            found.append(_other_backend(doc, path, backend, hint))
    base = spec.get("baseModel")
    if isinstance(base, str):
        found.extend(_base_model(backend, base, doc))
    if backend == VERTEX:
        found.extend(_labels(spec.get("labels"), doc))
    return found


def _get(value: Any, path: str) -> Any:
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _other_backend(doc: RawDocument, path: str, backend: str, hint: str | None) -> Diagnostic:
    other = VERTEX if backend == GEMINI else GEMINI
    return Diagnostic(
        doc.location(path, key=True),
        f"`{path}` is only on the {other} backend, and the backend is {backend}",
        field=path,
        hint=hint,
    )


def _base_model(backend: str, base: str, doc: RawDocument) -> list[Diagnostic]:
    if backend == GEMINI:
        if base.startswith("models/"):
            return []
        return [
            Diagnostic(
                doc.location("spec.baseModel"),
                "`spec.baseModel` must be a model name like "
                f"`models/gemini-1.5-flash-001-tuning`, got `{base}`",
                field="spec.baseModel",
            )
        ]
    problem = vertex_model_problem(base)
    if problem is None:
        return []
    message, hint = problem
    shown = base if len(base) <= 80 else base[:80] + "..."
    return [
        Diagnostic(
            doc.location("spec.baseModel"),
            f"`spec.baseModel` {message}, got `{shown}`",
            field="spec.baseModel",
            hint=hint,
        )
    ]


def _labels(labels: Any, doc: RawDocument) -> list[Diagnostic]:
    """Vertex AI's label rules, each broken one at its key."""
    if not isinstance(labels, dict):
        return []
    found: list[Diagnostic] = []
    if len(labels) > MAX_LABELS:
        found.append(
            Diagnostic(
                doc.location("spec.labels", key=True),
                f"`spec.labels` has {len(labels)} labels; at most {MAX_LABELS} are allowed",
                field="spec.labels",
            )
        )
    for key, label in labels.items():
        path = f"spec.labels.{key}"
        problem = label_key_problem(key)
        if problem is not None:
            lowered = key.lower()
            hint = None if label_key_problem(lowered) else f"did you mean `{lowered}`?"
            found.append(
                Diagnostic(
                    doc.location(path, key=True),
                    f"label `{key[:80]}`: {problem}",
                    field=path,
                    hint=hint,
                )
            )
        if isinstance(label, str):
            problem = label_value_problem(label)
            if problem is not None:
                found.append(
                    Diagnostic(
                        doc.location(path),
                        f"label `{key[:80]}`: {problem}, got `{label[:80]}`",
                        field=path,
                    )
                )
    return found
