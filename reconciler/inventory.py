"""The project's tuned-model inventory: every live model, classified against the state.

``classify`` is a purely computational function with no side-effects: live
models and the state document in, one ``InventoryRow`` per model out. The
only I/O is in ``collect_inventory``, which makes ONE paginated list call
(page size 1000, so N models cost ceil(N/1000) requests) and, rarely, an
operation GET for an in-flight model whose total step count cannot be
estimated from the state.

Status precedence (a model gets exactly one status):

1. ``unmanaged`` -- live, but the state does not manage it (whatever its state);
2. ``missing``   -- managed, but no longer live (deleted out of band);
3. ``failed``    -- managed and FAILED;
4. ``in-flight`` -- managed and still CREATING;
5. ``drifted``   -- managed, ACTIVE, and a mutable field set in the applied
   spec differs from the live value (fields the manifest left unset are the
   server's to choose, so they never drift);
6. ``managed``   -- managed, and live matches what was applied.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from reconciler.applied import EvaluationRecord, ModelRecord, StateDocument
from reconciler.diff import mutable_drift
from reconciler.errors import NotFoundError, UsageError
from reconciler.live import CREATING, FAILED, LiveModel, OperationStatus, Snapshot
from reconciler.spec import MUTABLE_FIELDS, TUNED_MODEL_ID_PATTERN, AppliedSpec


class Status(enum.StrEnum):
    """Closed set of inventory statuses; the values are the stable JSON/CSV strings."""

    MANAGED = "managed"
    DRIFTED = "drifted"
    IN_FLIGHT = "in-flight"
    FAILED = "failed"
    UNMANAGED = "unmanaged"
    MISSING = "missing"


# One human title per status, next to the enum (and its display order in totals).
TITLES: dict[Status, str] = {
    Status.MANAGED: "managed, matches the applied spec",
    Status.DRIFTED: "managed, changed outside the reconciler",
    Status.IN_FLIGHT: "managed, still tuning",
    Status.FAILED: "managed, tuning failed",
    Status.UNMANAGED: "live, not in the state",
    Status.MISSING: "in the state, not live",
}


@dataclass(frozen=True)
class Progress:
    """How far an in-flight tuning is. ``total_steps`` 0 means unknown."""

    completed_steps: int
    total_steps: int

    @property
    def percent(self) -> float | None:
        if self.total_steps <= 0:
            return None
        return min(100.0, 100.0 * self.completed_steps / self.total_steps)


@dataclass(frozen=True)
class InventoryRow:
    """One tuned model as the inventory reports it."""

    name: str  # "tunedModels/<id>"
    status: Status
    address: str | None = None  # "TunedModel/<manifest name>" when the state manages it
    source: str | None = None  # base model, or "tunedModels/<id>" it was tuned from
    state: str | None = None  # live state (CREATING/ACTIVE/FAILED); None when missing
    create_time: str | None = None
    update_time: str | None = None
    display_name: str | None = None
    drift: tuple[str, ...] = ()  # mutable fields that differ from the applied spec
    progress: Progress | None = None  # in-flight only
    error: str | None = None  # failed: the operation error; missing: why nothing is live
    # createBeforeDestroy: "serving", "candidate" (tuning, or failed and not
    # promoted) or "retired" (replaced, to be deleted); None for a model with one
    # generation and for unmanaged models.
    generation: str | None = None
    snapshots: tuple[Snapshot, ...] = field(default=(), compare=False)
    evaluation: EvaluationRecord | None = None  # this live model's last evaluation, if any

    @property
    def detail(self) -> str:
        """The one-cell summary people read: progress, drifted fields or error."""
        if self.generation == "retired":
            return "old generation; the next apply deletes it"
        if self.generation == "candidate":
            text = self._detail()
            return "candidate generation" + (f": {text}" if text else "")
        return self._detail()

    def _detail(self) -> str:
        if self.status is Status.DRIFTED:
            return "drift: " + ", ".join(self.drift)
        if self.status is Status.IN_FLIGHT and self.progress is not None:
            done, total = self.progress.completed_steps, self.progress.total_steps
            percent = self.progress.percent
            if percent is None:
                return f"step {done} of ?"
            return f"{percent:.0f}% (step {done}/{total})"
        if self.status is Status.FAILED:
            return self.error or "tuning failed"
        if self.status is Status.MISSING:
            return self.error or "deleted outside the reconciler"
        return ""

    @property
    def latest_loss(self) -> float | None:
        return self.snapshots[-1].mean_loss if self.snapshots else None


@dataclass(frozen=True)
class Inventory:
    """All rows, sorted by name; ``filter`` is the API filter used (missing rows are then omitted)."""

    rows: tuple[InventoryRow, ...]
    filter: str | None = None

    @property
    def totals(self) -> dict[str, int]:
        """Count per status value, every status present (zero included), in ``TITLES`` order."""
        counts = Counter(row.status for row in self.rows)
        return {status.value: counts.get(status, 0) for status in TITLES}

    @property
    def total(self) -> int:
        return len(self.rows)


def _spec_of(record: ModelRecord) -> AppliedSpec | None:
    return record.applied or record.pendingCreate


def _source_of(live: LiveModel | None, spec: AppliedSpec | None) -> str | None:
    if live is not None and (live.tuned_model_source or live.base_model):
        return live.tuned_model_source or live.base_model
    if spec is not None:
        return spec.tunedModelSource or spec.baseModel
    return None


def _progress(
    live: LiveModel, spec: AppliedSpec | None, operation: OperationStatus | None
) -> Progress:
    completed = live.snapshots[-1].step if live.snapshots else 0
    total = 0
    if operation is not None:
        completed = max(completed, operation.completed_steps)
        total = operation.total_steps
    if total <= 0 and spec is not None and spec.dataset is not None:
        total = spec.hyperparameters.estimated_steps(spec.dataset.examples)
    return Progress(completed_steps=completed, total_steps=total)


def _drift(spec: AppliedSpec, model: LiveModel) -> tuple[str, ...]:
    """Drifted field names. Exact equality of every recorded field is the common
    case and needs no diff; anything else goes to ``diff.mutable_drift``, which
    owns the rules (unset fields, float32 tolerance, reader order)."""
    live_fields = model.mutable_fields()
    if all(
        value is None or value == () or live_fields[name] == value
        for name, value in ((name, getattr(spec, name)) for name in MUTABLE_FIELDS)
    ):
        return ()
    return tuple(change.path for change in mutable_drift(spec, model))


def _managed_row(
    row: InventoryRow,
    *,
    model: LiveModel,
    record: ModelRecord,
    manifest_name: str,
    operation: OperationStatus | None,
) -> InventoryRow:
    spec = _spec_of(record)
    address = f"TunedModel/{manifest_name}"
    if model.state == FAILED:
        return replace(row, status=Status.FAILED, address=address, error=record.lastError)
    if model.state == CREATING:
        progress = _progress(model, spec, operation)
        return replace(row, status=Status.IN_FLIGHT, address=address, progress=progress)
    drift = _drift(spec, model) if spec else ()
    status = Status.DRIFTED if drift else Status.MANAGED
    return replace(row, status=status, address=address, drift=drift)


def _other_generations(state: StateDocument) -> dict[str, tuple[str, str, ModelRecord]]:
    """Live name -> (manifest name, "candidate" | "retired", the record describing it)."""
    found: dict[str, tuple[str, str, ModelRecord]] = {}
    for manifest_name, record in state.models.items():
        for name in record.retired:
            found[name] = (manifest_name, "retired", record)
        if record.candidate is not None:
            found[record.candidate.name] = (manifest_name, "candidate", record.candidate)
    return found


def _generation_row(
    row: InventoryRow, *, model: LiveModel, found: tuple[str, str, ModelRecord]
) -> InventoryRow:
    """A createBeforeDestroy generation that does not serve: a candidate or a retired one."""
    manifest_name, role, record = found
    address = f"TunedModel/{manifest_name}"
    if role == "retired":
        return replace(
            row,
            status=Status.MANAGED,
            address=address,
            generation=role,
            error=None,
            drift=(),
        )
    if model.state == CREATING:
        spec = _spec_of(record)
        progress = _progress(model, spec, None)
        return replace(
            row, status=Status.IN_FLIGHT, address=address, generation=role, progress=progress
        )
    if model.state == FAILED or record.lastError:
        error = f"not promoted: {record.lastError or 'tuning failed'}; the next apply deletes it"
        return replace(row, status=Status.FAILED, address=address, generation=role, error=error)
    return replace(row, status=Status.MANAGED, address=address, generation=role)


def classify(
    *,
    live: Iterable[LiveModel],
    state: StateDocument,
    operations: Mapping[str, OperationStatus] | None = None,
    include_missing: bool = True,
) -> Inventory:
    """Classify every live model (and every managed model that is gone). Pure.

    ``operations`` maps a live model name to its tuning operation when the
    caller fetched it (it beats the estimate of total steps). With
    ``include_missing`` False (a filtered listing), managed models absent from
    ``live`` are not reported: a filter hides models, it does not delete them.
    """
    operations = operations or {}
    by_live_name: dict[str, tuple[str, ModelRecord]] = {
        record.name: (manifest_name, record) for manifest_name, record in state.models.items()
    }
    others = _other_generations(state)
    rows: list[InventoryRow] = []
    seen: set[str] = set()
    for model in live:
        seen.add(model.name)
        row = InventoryRow(
            name=model.name,
            status=Status.UNMANAGED,
            source=_source_of(model, None),
            state=model.state,
            create_time=model.create_time,
            update_time=model.update_time,
            display_name=model.display_name,
            snapshots=model.snapshots,
        )
        managed = by_live_name.get(model.name)
        if model.name in others:
            owner = state.models[others[model.name][0]]
            row = replace(row, evaluation=owner.evaluations.get(model.name))
            row = _generation_row(row, model=model, found=others[model.name])
        elif managed is not None:
            manifest_name, record = managed
            row = replace(row, evaluation=record.evaluations.get(model.name))
            row = _managed_row(
                row,
                model=model,
                record=record,
                manifest_name=manifest_name,
                operation=operations.get(model.name),
            )
            if record.candidate is not None or record.retired or record.generation > 1:
                row = replace(row, generation="serving")
        rows.append(row)
    if include_missing:
        for manifest_name, record in state.models.items():
            if record.name in seen:
                continue
            spec = _spec_of(record)
            rows.append(
                InventoryRow(
                    name=record.name,
                    status=Status.MISSING,
                    address=f"TunedModel/{manifest_name}",
                    source=_source_of(None, spec),
                    create_time=record.createTime,
                    update_time=record.updateTime,
                    display_name=spec.displayName if spec else None,
                    error=_missing_reason(record),
                )
            )
    rows.sort(key=lambda r: r.name)
    return Inventory(rows=tuple(rows), filter=None)


def _missing_reason(record: ModelRecord) -> str | None:
    """Why a managed model is not live, when it is not "deleted outside the reconciler"."""
    if record.replacing:
        return "replacement interrupted; the next apply creates its successor"
    if record.deleting:
        return "deleted by an interrupted destroy or apply; the next run removes the record"
    if record.applied is None and record.pendingCreate is not None:
        # Only an intent was recorded: nothing was ever live to delete.
        return "interrupted create never reached the API; the next apply creates it"
    return None


class InventoryClient(Protocol):
    """The part of ``reconciler.api.GeminiClient`` the inventory needs."""

    def list_tuned_models(
        self, *, filter: str | None = None, page_size: int = 1000
    ) -> Iterator[LiveModel]: ...

    def get_operation(self, name: str) -> OperationStatus: ...


# Models are listed at the API's maximum page size: N models, ceil(N/1000) requests.
LIST_PAGE_SIZE = 1000


def id_terms(filter: str | None) -> list[str]:
    """The words of ``filter`` to look for in model ids (all must occur). Pure.

    None when the filter has an API-only term (``owner:me``, ``readers:everyone``):
    those select by something an id cannot show.
    """
    words = (filter or "").lower().split()
    if not words or any(":" in word for word in words):
        return []
    return words


def collect_inventory(
    *, client: InventoryClient, state: StateDocument, filter: str | None = None
) -> Inventory:
    """List the live models once and classify them against ``state``.

    An operation is fetched only for an in-flight managed model whose total
    steps the state cannot estimate (no recorded dataset size, e.g. an
    imported model) and whose record names its operation.
    """
    live = list(client.list_tuned_models(filter=filter or None, page_size=LIST_PAGE_SIZE))
    terms = id_terms(filter)
    if terms:
        # The API's filter reads display names and descriptions, never ids:
        # a second, unfiltered listing finds the models whose id matches.
        listed = {model.name for model in live}
        live += [
            model
            for model in client.list_tuned_models(filter=None, page_size=LIST_PAGE_SIZE)
            if model.name not in listed and all(term in model.name.lower() for term in terms)
        ]
    by_live_name = {record.name: record for record in state.models.values()}
    operations: dict[str, OperationStatus] = {}
    for model in live:
        record = by_live_name.get(model.name)
        if model.state != CREATING or record is None or not record.operation:
            continue
        spec = _spec_of(record)
        if spec is None or spec.dataset is None or not spec.dataset.examples:
            operations[model.name] = client.get_operation(record.operation)
    inventory = classify(live=live, state=state, operations=operations, include_missing=not filter)
    return Inventory(rows=inventory.rows, filter=filter or None)


class ShowClient(InventoryClient, Protocol):
    """The part of the client ``show`` needs."""

    def get_tuned_model(self, name: str) -> LiveModel: ...

    def list_operations(self, model: str) -> list[OperationStatus]: ...


@dataclass(frozen=True)
class ModelDetail:
    """Everything ``reconciler show`` prints about one model."""

    model: LiveModel
    row: InventoryRow  # its inventory classification (status, address, drift, progress)
    record: ModelRecord | None
    operation: OperationStatus | None
    snapshots: tuple[Snapshot, ...]


_TUNED_MODEL_ID = re.compile(TUNED_MODEL_ID_PATTERN)


def _name_hint(model_id: str, *, state: StateDocument) -> str:
    hint = (
        "give a manifest name or tunedModels/ID, where the id is 1-40 lower-case letters, "
        "digits and '-' ([a-z]([a-z0-9-]{0,38}[a-z0-9])?)"
    )
    guess = re.sub(r"[^a-z0-9-]+", "-", model_id.lower()).strip("-")
    close = difflib.get_close_matches(guess, sorted(state.models), n=1)
    if close:
        hint += f"; did you mean `{close[0]}`?"
    return hint


def resolve_name(*, ref: str, state: StateDocument) -> tuple[str, str | None]:
    """``(live name, manifest name or None)`` for a manifest name, ``tunedModels/ID`` or a job. Pure.

    A bare name the state does not know is taken as a live id, so any model
    in the project can be shown. A name no model can have is refused here,
    before any request, with the closest managed name as a suggestion.
    """
    if ref.startswith("projects/") and "/tuningJobs/" in ref:  # a Vertex AI job, as listed
        for manifest_name, record in state.models.items():
            if record.name == ref:
                return ref, manifest_name
        return ref, None
    model_id = ref.removeprefix("tunedModels/")
    if not _TUNED_MODEL_ID.fullmatch(model_id):
        raise UsageError(
            f"{ref!r} is not a tuned model name",
            hint=_name_hint(model_id, state=state),
        )
    if ref.startswith("tunedModels/"):
        for manifest_name, record in state.models.items():
            if record.name == ref:
                return ref, manifest_name
        return ref, None
    known = state.models.get(ref)
    if known is not None:
        return known.name, ref
    return f"tunedModels/{ref}", None


def describe_model(*, client: ShowClient, state: StateDocument, ref: str) -> ModelDetail:
    """One GET of the model, plus its operation: the recorded in-flight one, else the latest.

    Raises ``NotFoundError`` (with a hint when the state still manages it)
    when the model is not live.
    """
    live_name, manifest_name = resolve_name(ref=ref, state=state)
    try:
        model = client.get_tuned_model(live_name)
    except NotFoundError as exc:
        if manifest_name is not None:
            how = (
                "deleted by an interrupted destroy or apply"
                if state.models[manifest_name].deleting
                else "deleted outside the reconciler"
            )
            exc.hint = (
                f"TunedModel/{manifest_name} is in the state but was {how}; "
                "`reconciler plan` will recreate it"
            )
        else:
            exc.hint = "`reconciler inventory` lists every tuned model in the project"
            typed = live_name.removeprefix("tunedModels/")
            close = difflib.get_close_matches(typed, sorted(state.models), n=1)
            if close:
                exc.hint = f"did you mean `{close[0]}`? {exc.hint}"
        raise
    if manifest_name is None and model.name != live_name:
        # A Vertex AI job named by its resource name answers with its live
        # name (tunedModels/<key> for one reconciler created): the state's.
        manifest_name = next((n for n, r in state.models.items() if r.name == model.name), None)
    record = state.models.get(manifest_name) if manifest_name else None
    operation: OperationStatus | None = None
    if record is not None and record.operation and model.state == CREATING:
        operation = client.get_operation(record.operation)
    else:
        try:
            operations = client.list_operations(live_name)
        except NotFoundError:
            operations = []
        operation = operations[-1] if operations else None
    snapshots = model.snapshots
    if operation is not None and len(operation.snapshots) > len(snapshots):
        snapshots = operation.snapshots
    scoped = StateDocument(
        lineage=state.lineage,
        serial=state.serial,
        models={manifest_name: record} if manifest_name and record else {},
    )
    ops = {model.name: operation} if operation is not None else {}
    row = classify(live=[model], state=scoped, operations=ops, include_missing=False).rows[0]
    return ModelDetail(
        model=model, row=row, record=record, operation=operation, snapshots=snapshots
    )
