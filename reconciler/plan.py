"""The planner: desired state + live models + state file -> ordered actions. Pure.

``make_plan`` is a purely computational function with no side-effects: no
clock, no network, no files. ``reconciler plan`` prints its result and
``reconciler apply`` carries the very same actions out.

Action kinds (PRODUCT.md "Plan semantics"):

* ``create``   -- in the manifests, not in state, not live; also a write-ahead
  ``pendingCreate`` whose model never reached the API.
* ``update``   -- a mutable field differs between manifest and live; the PATCH
  carries exactly ``update_mask`` (``lifecycle.ignoreChanges`` excluded).
* ``replace``  -- an immutable input changed (every one is a reason), the live
  model is FAILED, ``--replace NAME``, or the source model is replaced:
  delete, then create with the same id.
* ``recreate`` -- in state, deleted outside the reconciler.
* ``delete``   -- in state, no longer in the manifests. A model the state does
  not manage is never deleted.
* ``wait``     -- a create is still in flight (CREATING): no second create.
* ``noop``     -- nothing differs; reported, not skipped.

Refresh-only plans (``--refresh-only``) do not look at what the manifests
want. They report drift between the state and the live models, reusing the
same kinds so the JSON shape stays the same, with ``Plan.refresh_only`` set:
``recreate`` (a managed model deleted out of band), ``replace`` (a managed
model is FAILED) and ``update`` (a mutable field changed out of band;
``before`` is the applied value, ``after`` the live one). Every other managed
model is a ``noop`` (in-flight ones too, with a note). ``Plan.has_changes`` is
then "there is drift", which is what ``--detailed-exitcode`` reports.

Conflicts (an unmanaged live model with a manifest's id, ``preventDestroy``
on a model the plan would delete or replace) are collected and raised
together as one ``PlanError``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciler.applied import ModelRecord, StateDocument
from reconciler.diff import FieldChange, desired_vs_applied, desired_vs_live, mutable_drift
from reconciler.errors import PlanError
from reconciler.live import CREATING, FAILED, LiveModel
from reconciler.spec import MUTABLE_FIELDS, AppliedSpec, DatasetRef, DesiredModel, DesiredState


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    RECREATE = "recreate"
    DELETE = "delete"
    WAIT = "wait"
    NOOP = "noop"


# Human titles, Terraform style; every kind has one (a test checks the table is closed).
TITLES: Mapping[ActionKind, str] = {
    ActionKind.CREATE: "+ create",
    ActionKind.UPDATE: "~ update in-place",
    ActionKind.REPLACE: "-/+ replace",
    ActionKind.RECREATE: "+ recreate",
    ActionKind.DELETE: "- delete",
    ActionKind.WAIT: "… wait",
    ActionKind.NOOP: "  noop",
}

# Kinds that send a create request (and so train, and take tuning steps).
CREATING_KINDS = frozenset({ActionKind.CREATE, ActionKind.REPLACE, ActionKind.RECREATE})

NOTE_ADOPT = "adopting an interrupted create"
NOTE_UNKNOWN_DATA = "training data unknown until the next replace"
NOTE_NOT_LIVE = "not live: only the state record is removed"
NOTE_IN_FLIGHT = "tuning in progress"
REASON_INTERRUPTED = "interrupted create never reached the API"
REASON_NEW = "new in the manifests"
REASON_OUT_OF_BAND = "deleted outside the reconciler"
REASON_REMOVED = "removed from the manifests"
REASON_FAILED = "live model is FAILED"
REASON_FORCED = "replacement requested with --replace"


@dataclass(frozen=True)
class Action:
    """One step of a plan, with everything apply needs and a saved plan records."""

    model: str  # manifest name == tunedModelId
    address: str  # "TunedModel/<name>"
    name: str  # "tunedModels/<id>"
    kind: ActionKind
    update_mask: tuple[str, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    reasons: tuple[str, ...] = ()
    spec: AppliedSpec | None = None  # what create sends / what state records as applied
    depends_on: str | None = None
    estimated_steps: int = 0  # for create/replace/recreate
    prevent_destroy: bool = False
    live_update_time: str | None = None  # as seen when planning (a saved plan checks it)
    live_state: str | None = None  # None: not live
    dataset: DatasetRef | None = None
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return TITLES[self.kind]


@dataclass(frozen=True)
class Plan:
    """Actions in execution order, and the state they were planned against."""

    actions: tuple[Action, ...]
    state_lineage: str
    state_serial: int
    refresh_only: bool = False

    def summary(self) -> dict[str, int]:
        """Count per kind, every kind present, in ``ActionKind`` order."""
        counts = {kind.value: 0 for kind in ActionKind}
        for action in self.actions:
            counts[action.kind.value] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        """Anything other than noop: what ``--detailed-exitcode`` reports as 2."""
        return any(action.kind is not ActionKind.NOOP for action in self.actions)


@dataclass(frozen=True)
class PlanOptions:
    targets: frozenset[str] = frozenset()
    replace: frozenset[str] = frozenset()
    refresh_only: bool = False


def _unknown_name_error(flag: str, name: str, known: Iterable[str]) -> PlanError:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"did you mean `{close[0]}`?" if close else "names are the manifests' metadata.name"
    return PlanError(f"{flag} {name}: no such model in the manifests or the state", hint=hint)


def _parent_of(name: str, desired: DesiredState, state: StateDocument) -> str | None:
    """The managed model ``name`` is tuned from, by manifest or (if removed) by record."""
    if name in desired.models:
        return desired.models[name].depends_on
    record = state.models.get(name)
    basis = (record.applied or record.pendingCreate) if record else None
    if basis is not None and basis.tunedModelSource is not None:
        source = basis.tunedModelSource.removeprefix("tunedModels/")
        return source if source in state.models or source in desired.models else None
    return None


def _selected(desired: DesiredState, state: StateDocument, options: PlanOptions) -> list[str]:
    """Model names in scope: all, or the targets plus what they are tuned from."""
    known = set(desired.models) | set(state.models)
    if not options.targets:
        return sorted(known)
    for target in sorted(options.targets):
        if target not in known:
            raise _unknown_name_error("--target", target, known)
    chosen: set[str] = set()
    for target in options.targets:
        current: str | None = target
        while current is not None and current not in chosen:
            chosen.add(current)
            current = _parent_of(current, desired, state)
    return sorted(chosen)


def _execution_order(
    actions: list[Action], parents: Mapping[str, str | None]
) -> tuple[Action, ...]:
    """Deletes first, children before parents; then the rest, parents before children.

    Kahn's algorithm, smallest name first among the ready ones, so the order is
    stable and reads alphabetically where dependencies do not decide it.
    """
    names = {a.model for a in actions}
    children: dict[str, list[str]] = {n: [] for n in names}
    indegree = dict.fromkeys(names, 0)
    for name in names:
        parent = parents.get(name)
        if parent in names:
            children[parent].append(name)
            indegree[name] += 1
    ready = sorted(n for n in names if indegree[n] == 0)
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for child in children[current]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
                ready.sort()
    if len(order) != len(names):
        cycle = sorted(names - set(order))
        raise PlanError(f"tunedModelSource dependency cycle between {', '.join(cycle)}")
    rank = {name: i for i, name in enumerate(order)}
    deletes = sorted(
        (a for a in actions if a.kind is ActionKind.DELETE), key=lambda a: -rank[a.model]
    )
    others = sorted(
        (a for a in actions if a.kind is not ActionKind.DELETE), key=lambda a: rank[a.model]
    )
    return (*deletes, *others)


def _merged_spec(basis: AppliedSpec, desired: DesiredModel) -> AppliedSpec:
    """What state records after an update: the applied inputs, with the manifest's mutable fields."""
    updates = {
        field: value
        for field in MUTABLE_FIELDS
        if (value := getattr(desired.spec, field)) not in (None, ())
        and value != getattr(basis, field)
    }
    # Unchanged models (nearly all of a large plan) keep the recorded spec itself.
    return basis.model_copy(update=updates) if updates else basis


def _immutable_reason(change: FieldChange) -> str:
    if change.path == "tuningTask.trainingData":
        return "training data changed"
    if change.path.startswith("tuningTask.hyperparameters."):
        return f"hyperparameter {change.path.rsplit('.', 1)[1]} changed"
    return f"{change.path} changed"


class _Planner:
    """One planning run; holds the inputs so the per-model rules read plainly."""

    def __init__(
        self,
        *,
        desired: DesiredState,
        live: Sequence[LiveModel],
        state: StateDocument,
        options: PlanOptions,
    ) -> None:
        self.desired = desired
        self.state = state
        self.options = options
        self.live = {model.name: model for model in live}
        self.conflicts: list[str] = []
        self.hints: list[str] = []
        self.replaced: set[str] = set()

    def conflict(self, message: str, hint: str) -> None:
        self.conflicts.append(message)
        if hint not in self.hints:
            self.hints.append(hint)

    def base(self, name: str, model_name: str, kind: ActionKind, **fields: object) -> Action:
        live = self.live.get(model_name)
        return Action(
            model=name,
            address=f"TunedModel/{name}",
            name=model_name,
            kind=kind,
            live_update_time=live.update_time if live else None,
            live_state=live.state if live else None,
            **fields,  # type: ignore[arg-type]
        )

    def plan_desired(self, d: DesiredModel) -> Action:
        record = self.state.models.get(d.name)
        live = self.live.get(d.model_name)
        make = functools.partial(
            self.base,
            d.name,
            record.name if record else d.model_name,
            depends_on=d.depends_on,
            prevent_destroy=d.lifecycle.prevent_destroy,
            dataset=d.spec.dataset,
        )
        creates = functools.partial(make, spec=d.spec, estimated_steps=d.estimated_steps)
        if record is None:
            if live is not None:
                self.conflict(
                    f"{d.address}: {d.model_name} exists but this state does not manage it",
                    f"reconciler import {d.name} {d.model_name}",
                )
            return creates(ActionKind.CREATE, reasons=(REASON_NEW,))
        adopting = record.applied is None
        if live is None:
            if adopting:
                return creates(ActionKind.CREATE, reasons=(REASON_INTERRUPTED,))
            return creates(ActionKind.RECREATE, reasons=(REASON_OUT_OF_BAND,))
        # A record with neither applied nor pendingCreate carries no history: nothing to compare.
        basis = record.applied or record.pendingCreate or d.spec
        notes: list[str] = [NOTE_ADOPT] if adopting else []
        immutable = desired_vs_applied(d, basis, live)
        reasons = [_immutable_reason(change) for change in immutable]
        if live.state == FAILED:
            reasons.append(
                f"{REASON_FAILED}: {record.lastError}" if record.lastError else REASON_FAILED
            )
        if d.name in self.options.replace:
            reasons.append(REASON_FORCED)
        if d.depends_on is not None and d.depends_on in self.replaced:
            reasons.append(f"source model {d.depends_on} is replaced")
        ignored = d.lifecycle.ignore_changes
        mutable = tuple(c for c in desired_vs_live(d, live) if c.path not in ignored)
        if reasons:
            self.replaced.add(d.name)
            if d.lifecycle.prevent_destroy:
                self.conflict(
                    f"{d.address} has lifecycle.preventDestroy but must be replaced ({'; '.join(reasons)})",
                    "remove lifecycle.preventDestroy to allow it, or revert the change",
                )
            changes = (*immutable, *mutable)
            return creates(
                ActionKind.REPLACE, changes=changes, reasons=tuple(reasons), notes=tuple(notes)
            )
        if basis.dataset is None or basis.dataset.hash is None:
            notes.append(NOTE_UNKNOWN_DATA)
        # What state records once this action is done: applied inputs + the manifest's mutable fields.
        updated = functools.partial(make, spec=_merged_spec(basis, d), notes=tuple(notes))
        if live.state == CREATING:
            operation = f" ({record.operation})" if record.operation else ""
            return updated(ActionKind.WAIT, reasons=(f"{NOTE_IN_FLIGHT}{operation}",))
        if mutable:
            mask = tuple(c.path for c in mutable)
            reasons = [f"{path} changed" for path in mask]
            return updated(
                ActionKind.UPDATE, update_mask=mask, changes=mutable, reasons=tuple(reasons)
            )
        return updated(ActionKind.NOOP)

    def plan_removed(self, name: str, record: ModelRecord) -> Action:
        live = self.live.get(record.name)
        basis = record.applied or record.pendingCreate
        notes = () if live is not None else (NOTE_NOT_LIVE,)
        if live is not None and record.preventDestroy:
            self.conflict(
                f"TunedModel/{name} has preventDestroy in the state but was {REASON_REMOVED}",
                "put the manifest back, or apply it with lifecycle.preventDestroy: false first",
            )
        return self.base(
            name,
            record.name,
            ActionKind.DELETE,
            reasons=(REASON_REMOVED,),
            notes=notes,
            depends_on=_parent_of(name, self.desired, self.state),
            prevent_destroy=record.preventDestroy,
            dataset=basis.dataset if basis else None,
        )

    def plan_drift(self, name: str, record: ModelRecord) -> Action:
        live = self.live.get(record.name)
        d = self.desired.models.get(name)
        common: dict[str, object] = {
            "depends_on": _parent_of(name, self.desired, self.state),
            "prevent_destroy": d.lifecycle.prevent_destroy if d else record.preventDestroy,
            "spec": record.applied,
            "dataset": record.applied.dataset if record.applied else None,
        }
        if record.applied is None:
            note = NOTE_ADOPT if live is not None else REASON_INTERRUPTED
            return self.base(name, record.name, ActionKind.NOOP, notes=(note,), **common)
        if live is None:
            return self.base(
                name, record.name, ActionKind.RECREATE, reasons=(REASON_OUT_OF_BAND,), **common
            )
        if live.state == FAILED:
            reason = f"{REASON_FAILED}: {record.lastError}" if record.lastError else REASON_FAILED
            return self.base(name, record.name, ActionKind.REPLACE, reasons=(reason,), **common)
        ignored = d.lifecycle.ignore_changes if d else frozenset()
        drift = tuple(c for c in mutable_drift(record.applied, live) if c.path not in ignored)
        if drift:
            return self.base(
                name,
                record.name,
                ActionKind.UPDATE,
                update_mask=tuple(c.path for c in drift),
                changes=drift,
                reasons=tuple(f"{c.path} changed outside the reconciler" for c in drift),
                **common,
            )
        notes = (NOTE_IN_FLIGHT,) if live.state == CREATING else ()
        return self.base(name, record.name, ActionKind.NOOP, notes=notes, **common)

    def run(self) -> Plan:
        names = _selected(self.desired, self.state, self.options)
        for name in sorted(self.options.replace):
            if name not in self.desired.models:
                raise _unknown_name_error("--replace", name, self.desired.models)
        parents = {name: _parent_of(name, self.desired, self.state) for name in names}
        actions: list[Action] = []
        if self.options.refresh_only:
            actions = [
                self.plan_drift(n, self.state.models[n]) for n in names if n in self.state.models
            ]
        else:
            # Parents first, so a replaced parent is known when its children are planned.
            for name in _topological(names, parents):
                if name in self.desired.models:
                    actions.append(self.plan_desired(self.desired.models[name]))
                else:
                    actions.append(self.plan_removed(name, self.state.models[name]))
        if self.conflicts:
            count = len(self.conflicts)
            head = "plan has a conflict" if count == 1 else f"plan has {count} conflicts"
            raise PlanError(f"{head}: {'; '.join(self.conflicts)}", hint="; ".join(self.hints))
        return Plan(
            actions=_execution_order(actions, parents),
            state_lineage=self.state.lineage,
            state_serial=self.state.serial,
            refresh_only=self.options.refresh_only,
        )


def _topological(names: list[str], parents: Mapping[str, str | None]) -> list[str]:
    placeholder = [Action(model=n, address="", name="", kind=ActionKind.NOOP) for n in names]
    return [a.model for a in _execution_order(placeholder, parents)]


def make_plan(
    *,
    desired: DesiredState,
    live: Sequence[LiveModel],
    state: StateDocument,
    options: PlanOptions,
) -> Plan:
    """Compare manifests, live models and state; return the ordered actions.

    This is a purely computational function with no side-effects. Raises
    ``PlanError`` for unknown ``--target``/``--replace`` names and for every
    conflict found (all of them in one message).
    """
    return _Planner(desired=desired, live=live, state=state, options=options).run()
