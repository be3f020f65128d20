"""Per-document rules the schema alone cannot state, each pointing at the field concerned.

They read the raw document (plain dicts), not the validated model, so that a
type error elsewhere in a document does not hide them; a value of the wrong
type is left to the schema check and skipped here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifests._yaml import RawDocument
from reconciler.spec import (
    CREATE_BEFORE_DESTROY_NAME_MAX_CHARS,
    INT64_MAX,
    MUTABLE_FIELDS,
    TUNED_MODEL_ID_MAX_CHARS,
    TUNED_MODEL_ID_PATTERN,
)

_TUNED_MODEL_ID = re.compile(TUNED_MODEL_ID_PATTERN)


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """``did you mean `x`?`` for the closest option, or None when nothing is close."""
    choices = sorted(set(options))
    # The same word in another case is the likeliest intent (`topk` is `topK`, not `topP`).
    lowered = {c.lower(): c for c in choices}
    close = [lowered[word.lower()]] if word.lower() in lowered else []
    if not close:
        close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _mapping(value: Any, key: str) -> dict[str, Any]:
    inner = value.get(key) if isinstance(value, dict) else None
    return inner if isinstance(inner, dict) else {}


def document_rules(kind: str, value: dict[str, Any], doc: RawDocument) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    name = _mapping(value, "metadata").get("name")
    spec = _mapping(value, "spec")
    if kind == "TunedModel":
        if isinstance(name, str) and name and not _TUNED_MODEL_ID.match(name):
            found.append(
                Diagnostic(
                    doc.location("metadata.name"),
                    f"`{name}` is not a valid tuned model id: use 1-40 lowercase letters, "
                    "digits and hyphens, starting with a letter and not ending with a hyphen",
                    field="metadata.name",
                )
            )
        if "spec" in value and isinstance(value["spec"], dict):
            found.extend(_tuned_model(spec, doc))
    elif kind == "Hyperparameters":
        found.extend(_learning_rate(spec, doc, "spec"))
    elif kind == "Dataset" and isinstance(value.get("spec"), dict):
        found.extend(_dataset_source(spec, doc, "spec"))
    elif kind == "Evaluation" and isinstance(value.get("spec"), dict):
        found.extend(_evaluation(spec, doc, "spec"))
    if kind != "TunedModel" and isinstance(name, str) and "/" in name:
        found.append(
            Diagnostic(
                doc.location("metadata.name"),
                f"`{name}`: names may not contain `/`",
                field="metadata.name",
            )
        )
    return found


def _tuned_model(spec: dict[str, Any], doc: RawDocument) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    base, source = spec.get("baseModel"), spec.get("tunedModelSource")
    if (base is None) == (source is None):
        both = base is not None
        found.append(
            Diagnostic(
                doc.location("spec.tunedModelSource" if both else "spec", key=True),
                "set exactly one of `baseModel` and `tunedModelSource`"
                + (", not both" if both else ""),
                field="spec.tunedModelSource" if both else "spec.baseModel",
            )
        )
    # The form of baseModel depends on the backend: see ``_backend``.
    if isinstance(source, str) and source.startswith("tunedModels/"):
        target = source.removeprefix("tunedModels/")
        if not _TUNED_MODEL_ID.match(target):
            found.append(
                Diagnostic(
                    doc.location("spec.tunedModelSource"),
                    f"`{source}` is not a valid tuned model name",
                    field="spec.tunedModelSource",
                )
            )
    numbers = spec.get("readerProjectNumbers")
    for index, number in enumerate(numbers if isinstance(numbers, list) else ()):
        path = f"spec.readerProjectNumbers.{index}"
        if isinstance(number, str) and not (number.isascii() and number.isdigit()):
            found.append(
                Diagnostic(
                    doc.location(path),
                    f"`{path}` must be a project number (digits), got `{number}`",
                    field=path,
                )
            )
        elif (
            isinstance(number, str | int)
            and not isinstance(number, bool)
            and not 0 < int(number) <= INT64_MAX
        ):
            found.append(
                Diagnostic(
                    doc.location(path),
                    f"`{path}` must be a project number from 1 to {INT64_MAX:,} "
                    f"(the API's int64), got {number}",
                    field=path,
                )
            )
    task = _mapping(spec, "tuningTask")
    for data in ("trainingData", "validationData"):
        if isinstance(task.get(data), dict):
            found.extend(_dataset_source(task[data], doc, f"spec.tuningTask.{data}"))
    if isinstance(task.get("hyperparameters"), dict):
        found.extend(
            _learning_rate(task["hyperparameters"], doc, "spec.tuningTask.hyperparameters")
        )
    if isinstance(spec.get("evaluation"), dict):
        found.extend(_evaluation(spec["evaluation"], doc, "spec.evaluation"))
    lifecycle = _mapping(spec, "lifecycle")
    name = _mapping(doc.value, "metadata").get("name") if isinstance(doc.value, dict) else None
    if (
        lifecycle.get("replacement") == "createBeforeDestroy"
        and isinstance(name, str)
        and len(name) > CREATE_BEFORE_DESTROY_NAME_MAX_CHARS
    ):
        found.append(
            Diagnostic(
                doc.location("spec.lifecycle.replacement"),
                f"`{name}` is {len(name)} characters: with createBeforeDestroy a name may have "
                f"at most {CREATE_BEFORE_DESTROY_NAME_MAX_CHARS}, to leave room for the generation "
                f"suffix (`{name}-2`) within the {TUNED_MODEL_ID_MAX_CHARS}-character id limit",
                field="spec.lifecycle.replacement",
            )
        )
    ignored = lifecycle.get("ignoreChanges")
    for index, item in enumerate(ignored if isinstance(ignored, list) else ()):
        if isinstance(item, str) and item not in MUTABLE_FIELDS:
            path = f"spec.lifecycle.ignoreChanges.{index}"
            found.append(
                Diagnostic(
                    doc.location(path),
                    f"`{item}` is not a mutable field; ignoreChanges takes "
                    + ", ".join(MUTABLE_FIELDS),
                    field=path,
                    hint=did_you_mean(item, MUTABLE_FIELDS),
                )
            )
    return found


def _dataset_source(spec: dict[str, Any], doc: RawDocument, path: str) -> list[Diagnostic]:
    """A dataset has exactly one of ``examples`` and ``file``."""
    examples, file = spec.get("examples"), spec.get("file")
    if (examples is None) != (file is None):
        return []
    both = examples is not None
    return [
        Diagnostic(
            doc.location(f"{path}.file" if both else path, key=True),
            "set exactly one of `examples` and `file`" + (", not both" if both else ""),
            field=f"{path}.file" if both else f"{path}.examples",
        )
    ]


def _evaluation(spec: dict[str, Any], doc: RawDocument, path: str) -> list[Diagnostic]:
    """An inline dataset has one source; a regex metric has a pattern that compiles, others none."""
    found: list[Diagnostic] = []
    if isinstance(spec.get("dataset"), dict):
        found.extend(_dataset_source(spec["dataset"], doc, f"{path}.dataset"))
    metrics = spec.get("metrics")
    for index, metric in enumerate(metrics if isinstance(metrics, list) else ()):
        if not isinstance(metric, dict):
            continue
        where = f"{path}.metrics.{index}"
        kind, pattern = metric.get("type"), metric.get("pattern")
        if kind == "regex" and pattern is None:
            found.append(
                Diagnostic(
                    doc.location(where, key=True),
                    f"missing required field `{where}.pattern` (a regex metric needs one)",
                    field=f"{where}.pattern",
                )
            )
        elif kind == "regex" and isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                found.append(
                    Diagnostic(
                        doc.location(f"{where}.pattern"),
                        f"`{where}.pattern` is not a valid regular expression: {exc}",
                        field=f"{where}.pattern",
                    )
                )
        elif isinstance(kind, str) and kind != "regex" and pattern is not None:
            found.append(
                Diagnostic(
                    doc.location(f"{where}.pattern", key=True),
                    f"`pattern` is only for `type: regex`, not `{kind}`",
                    field=f"{where}.pattern",
                )
            )
    return found


def _learning_rate(spec: dict[str, Any], doc: RawDocument, path: str) -> list[Diagnostic]:
    if spec.get("learningRate") is None or spec.get("learningRateMultiplier") is None:
        return []
    field = f"{path}.learningRateMultiplier"
    return [
        Diagnostic(
            doc.location(field, key=True),
            "set either `learningRate` or `learningRateMultiplier`, not both",
            field=field,
        )
    ]
