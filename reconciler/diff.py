"""Pure field-level diffs: desired (manifests) vs live (API) vs applied (state).

Two questions, two functions:

* ``desired_vs_live`` -- do the PATCH-able fields (``MUTABLE_FIELDS``) of the
  live model differ from the manifest? The answer becomes an ``update``.
* ``desired_vs_applied`` -- did an input-only or immutable input change since
  the model was created (dataset hash, resolved hyperparameters, baseModel,
  tunedModelSource)? The answer becomes a ``replace``. The API never returns
  training data, so the state's record of what was sent is the only witness.

Both compare an *essence*: the fields the manifest actually sets. A field left
unset in the manifest (``None``, or no readerProjectNumbers) is the server's to
fill, so it is never a difference -- a manifest without ``temperature`` does not
fight the base model's default. Numbers are compared with a relative tolerance
(``FLOAT_REL_TOL``) because the API echoes floats through float32 (0.2 comes
back as 0.200000003).

deepdiff is used only here, and its result objects never leave this module:
they are turned into ``FieldChange`` values at once.

These are purely computational functions with no side-effects.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.live import LiveModel
from reconciler.spec import MUTABLE_FIELDS, AppliedSpec, DatasetRef, DesiredModel

# The API stores temperature/topP/learningRate as float32 (about 7 significant
# digits); anything closer than this is the same value echoed back.
FLOAT_REL_TOL = 1e-6

HYPERPARAMETER_FIELDS: tuple[str, ...] = (
    "epochCount",
    "batchSize",
    "learningRate",
    "learningRateMultiplier",
    "adapterSize",  # Vertex AI only
)
TRAINING_DATA_PATH = "tuningTask.trainingData"
VALIDATION_DATA_PATH = "tuningTask.validationData"  # Vertex AI only
HYPERPARAMETERS_PATH = "tuningTask.hyperparameters"

# Characters of the hex digest shown to people: enough to tell datasets apart.
SHORT_HASH_CHARS = 12


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: API-style dotted ``path``, value ``before`` and ``after``."""

    path: str
    before: object
    after: object


def numbers_close(a: object, b: object) -> bool:
    """True when both are numbers equal up to float32 noise (bools are not numbers here)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=0.0)
    return False


@functools.cache
def _deepdiff() -> tuple[Any, Any]:
    """deepdiff and our tolerance operator, imported on the first real difference.

    A plan where nothing changed never needs deepdiff, and importing it costs
    about 50 ms of every command's start-up.
    """
    from deepdiff import DeepDiff
    from deepdiff.operator import BaseOperator

    class CloseNumbers(BaseOperator):
        """Tells deepdiff that float noise is not a difference."""

        def give_up_diffing(self, level: Any, diff_instance: Any) -> bool:
            return numbers_close(level.t1, level.t2)

    return DeepDiff, CloseNumbers


def _same(a: object, b: object) -> bool:
    """Cheap equality with float tolerance for flat values; False means "ask deepdiff"."""
    return a == b or numbers_close(a, b)


def _changed_keys(before: Mapping[str, object], after: Mapping[str, object]) -> set[str]:
    """Top-level keys whose values differ, numbers compared with tolerance.

    Almost every model in a plan is unchanged, so equal mappings are recognised
    with plain comparisons first; deepdiff (about a millisecond a call) only
    runs when something differs, which keeps a 10,000-model plan fast.
    """
    if before.keys() == after.keys() and all(_same(before[k], after[k]) for k in before):
        return set()
    deep_diff, close_numbers = _deepdiff()
    result = deep_diff(
        dict(before),
        dict(after),
        ignore_numeric_type_changes=True,
        custom_operators=[close_numbers(types=[int, float])],
        view="tree",
    )
    changed: set[str] = set()
    for items in result.values():
        for item in items:
            path = item.path(output_format="list")
            if path:
                changed.add(str(path[0]))
    return changed


def _mutable_value(spec: AppliedSpec, field: str) -> object:
    value = getattr(spec, field)
    if field == "readerProjectNumbers":
        return tuple(value)
    return value


def _is_unset(value: object) -> bool:
    return value is None or value == () or value == {}


def _sorted_numbers(value: object) -> object:
    # readerProjectNumbers is a set in meaning; the server may reorder it.
    return sorted(value) if isinstance(value, tuple | list) else value


def desired_vs_live(desired: DesiredModel, live: LiveModel) -> tuple[FieldChange, ...]:
    """Mutable fields set in the manifest that the live model does not match, in mask order."""
    return _mutable_changes(desired.spec, live, spec_is_before=False)


def mutable_drift(applied: AppliedSpec, live: LiveModel) -> tuple[FieldChange, ...]:
    """Mutable fields changed out of band: ``before`` as applied, ``after`` as live now.

    Used by refresh-only plans. Fields the applied spec left unset were the
    server's to choose, so they cannot drift.
    """
    return _mutable_changes(applied, live, spec_is_before=True)


def _mutable_changes(
    spec: AppliedSpec, live: LiveModel, *, spec_is_before: bool
) -> tuple[FieldChange, ...]:
    """The mutable fields ``spec`` sets that differ live, in mask order; unset ones are skipped."""
    live_fields = live.mutable_fields()
    ours = {
        field: value
        for field in MUTABLE_FIELDS
        if not _is_unset(value := _mutable_value(spec, field))
    }
    theirs = {field: live_fields[field] for field in ours}
    if "labels" in ours:
        theirs["labels"] = _managed_labels(ours["labels"], theirs["labels"])
    before, after = (ours, theirs) if spec_is_before else (theirs, ours)
    changed = _changed_keys(
        {k: _sorted_numbers(v) for k, v in before.items()},
        {k: _sorted_numbers(v) for k, v in after.items()},
    )
    return tuple(
        FieldChange(path=field, before=before[field], after=after[field])
        for field in MUTABLE_FIELDS
        if field in changed
    )


def _managed_labels(ours: object, live: object) -> object:
    """The live labels under the keys the manifest sets: the others are not its own.

    The service labels what it generates (Vertex AI names the base model and
    the job on a tuned Model), and others may add theirs; only a key the
    manifest writes can differ from it.
    """
    if not isinstance(ours, Mapping) or not isinstance(live, Mapping):
        return live
    return {key: live[key] for key in ours if key in live}


def labels_match(desired: Mapping[str, str], live: Mapping[str, str]) -> bool:
    """True when every label the manifest sets has its value live (other keys are not ours)."""
    return all(live.get(key) == value for key, value in desired.items())


def describe_dataset(dataset: DatasetRef | None) -> str | None:
    """``name (sha256:1a2b3c4d5e6f)`` -- how a dataset appears in a field change."""
    if dataset is None:
        return None
    if dataset.hash is None:
        return f"{dataset.name} (unknown)"
    algorithm, _, digest = dataset.hash.partition(":")
    short = (
        f"{algorithm}:{digest[:SHORT_HASH_CHARS]}" if digest else dataset.hash[:SHORT_HASH_CHARS]
    )
    return f"{dataset.name} ({short})"


def _origin_changes(desired: AppliedSpec, applied: AppliedSpec) -> list[FieldChange]:
    """baseModel / tunedModelSource: what the model is tuned from.

    A model tuned from another tuned model may record the source's base model
    too (an import reads it from the live model), so only the field that names
    the origin in the manifest is compared, plus a switch between the two.
    """
    changes: list[FieldChange] = []
    if desired.tunedModelSource is not None:
        if desired.tunedModelSource != applied.tunedModelSource:
            changes.append(
                FieldChange(
                    path="tunedModelSource",
                    before=applied.tunedModelSource,
                    after=desired.tunedModelSource,
                )
            )
        return changes
    if desired.baseModel is not None and desired.baseModel != applied.baseModel:
        changes.append(
            FieldChange(path="baseModel", before=applied.baseModel, after=desired.baseModel)
        )
    if applied.tunedModelSource is not None:
        changes.append(
            FieldChange(path="tunedModelSource", before=applied.tunedModelSource, after=None)
        )
    return changes


def _hyperparameter_changes(
    desired: AppliedSpec, applied: AppliedSpec, live: LiveModel | None
) -> list[FieldChange]:
    """Hyperparameters the manifest sets that differ from what was applied.

    Unset in the manifest: the service's default, not a difference. Unset when
    applied (an older manifest, or an import) but now set to exactly what the
    live model echoes: the model already trained with it, not a difference.
    """
    echoed: Mapping[str, float | int] = live.hyperparameters if live is not None else {}
    changes: list[FieldChange] = []
    for field in HYPERPARAMETER_FIELDS:
        want = getattr(desired.hyperparameters, field)
        if want is None:
            continue
        was = getattr(applied.hyperparameters, field)
        if was is None and field in echoed and numbers_close(echoed[field], want):
            continue
        if was is not None and numbers_close(was, want):
            continue
        changes.append(FieldChange(path=f"{HYPERPARAMETERS_PATH}.{field}", before=was, after=want))
    return changes


def _dataset_change(desired: AppliedSpec, applied: AppliedSpec) -> list[FieldChange]:
    """Training data changed: the content hash recorded at creation differs.

    An unknown recorded hash (imported model) is not a change: nothing can be
    known about the data until the model is next replaced.
    """
    if desired.dataset is None or applied.dataset is None or applied.dataset.hash is None:
        return []
    if desired.dataset.hash == applied.dataset.hash:
        return []
    return [
        FieldChange(
            path=TRAINING_DATA_PATH,
            before=describe_dataset(applied.dataset),
            after=describe_dataset(desired.dataset),
        )
    ]


def _validation_change(desired: AppliedSpec, applied: AppliedSpec) -> list[FieldChange]:
    """Validation data (Vertex AI) set in the manifest and not what the tuning job was given.

    Left unset in the manifest, it is not a difference (as every unset input);
    an unknown recorded hash is not one either.
    """
    want, was = desired.validationDataset, applied.validationDataset
    if want is None or (was is not None and (was.hash is None or was.hash == want.hash)):
        return []
    return [
        FieldChange(
            path=VALIDATION_DATA_PATH,
            before=describe_dataset(was),
            after=describe_dataset(want),
        )
    ]


def desired_vs_applied(
    desired: DesiredModel, applied: AppliedSpec, live: LiveModel | None
) -> tuple[FieldChange, ...]:
    """Immutable inputs that changed since creation; each one forces a replacement."""
    return (
        *_origin_changes(desired.spec, applied),
        *_dataset_change(desired.spec, applied),
        *_validation_change(desired.spec, applied),
        *_hyperparameter_changes(desired.spec, applied, live),
    )


# Exact-equality shortcuts. Nearly every model of a large plan is unchanged;
# these answer "certainly nothing to report" with plain comparisons, and say
# nothing otherwise (False sends the caller to the full diff above, which
# alone decides what a difference is). Exact equality implies "no difference"
# under every rule of the full diff, so the shortcut can never hide a change.


def inputs_unchanged(desired: AppliedSpec, applied: AppliedSpec) -> bool:
    """True when ``desired_vs_applied`` would certainly find nothing. Pure."""
    return (
        desired.baseModel == applied.baseModel
        and desired.tunedModelSource == applied.tunedModelSource
        and desired.hyperparameters == applied.hyperparameters
        and desired.dataset is not None
        and applied.dataset is not None
        and desired.dataset.hash is not None
        and desired.dataset.hash == applied.dataset.hash
        and desired.validationDataset == applied.validationDataset
    )


def mutable_unchanged(desired: AppliedSpec, live: LiveModel) -> bool:
    """True when ``desired_vs_live`` would certainly find nothing. Pure."""
    return (
        (desired.displayName is None or desired.displayName == live.display_name)
        and (desired.description is None or desired.description == live.description)
        and (desired.temperature is None or desired.temperature == live.temperature)
        and (desired.topP is None or desired.topP == live.top_p)
        and (desired.topK is None or desired.topK == live.top_k)
        and (
            not desired.readerProjectNumbers
            or sorted(desired.readerProjectNumbers) == sorted(live.reader_project_numbers)
        )
        and labels_match(desired.labels, live.labels)
    )
