"""The per-model rules of planning: manifest + record + live model -> one action. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.applied import ModelRecord, StateDocument
from reconciler.diff import (
    FieldChange,
    desired_vs_applied,
    desired_vs_live,
    inputs_unchanged,
    mutable_drift,
    mutable_unchanged,
)
from reconciler.errors import PlanError
from reconciler.live import CREATING, FAILED, LiveModel
from reconciler.plan.actions import (
    NOTE_ADOPT,
    NOTE_IN_FLIGHT,
    NOTE_NOT_LIVE,
    NOTE_UNAVAILABLE,
    NOTE_UNKNOWN_DATA,
    REASON_FAILED,
    REASON_FORCED,
    REASON_INTERRUPTED,
    REASON_INTERRUPTED_DELETE,
    REASON_NEW,
    REASON_OUT_OF_BAND,
    REASON_REMOVED,
    REASON_REPLACEMENT_INTERRUPTED,
    Action,
    ActionKind,
    Plan,
    PlanOptions,
)
from reconciler.plan.evaluations import with_evaluations
from reconciler.plan.ordering import (
    execution_order,
    parent_of,
    planned_order_for_execution,
    selected,
    topological,
    unknown_name_error,
)
from reconciler.recorded import StoredRecords
from reconciler.spec import (
    MUTABLE_FIELDS,
    AppliedSpec,
    DesiredModel,
    DesiredState,
    generation_name,
)


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
    if change.path == "tuningTask.validationData":
        return "validation data changed"
    if change.path.startswith("tuningTask.hyperparameters."):
        return f"hyperparameter {change.path.rsplit('.', 1)[1]} changed"
    return f"{change.path} changed"


def _not_retried(name: str, candidate: str, error: str) -> str:
    return (
        f"not tuned again: {candidate} was tuned from these inputs and failed ({error}); "
        f"change them, or `reconciler apply --replace {name}` to try again"
    )


def _gone_reason(record: ModelRecord) -> str:
    """Why a managed model is not live: the reconciler's own delete, or someone else's."""
    return REASON_INTERRUPTED_DELETE if record.deleting else REASON_OUT_OF_BAND


class Planner:
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

    def desired_action(
        self,
        d: DesiredModel,
        name: str,
        live: LiveModel | None,
        kind: ActionKind,
        **fields: object,
    ) -> Action:
        """An action on a model of the manifests (``name``: its live resource name)."""
        return Action(
            model=d.name,
            address=d.address,
            name=name,
            kind=kind,
            live_update_time=live.update_time if live else None,
            live_state=live.state if live else None,
            depends_on=d.depends_on,
            prevent_destroy=d.lifecycle.prevent_destroy,
            dataset=d.spec.dataset,
            **fields,  # type: ignore[arg-type]
        )

    def unchanged(self, d: DesiredModel, record: ModelRecord, live: LiveModel) -> bool:
        """Nothing to do and nothing to say: nearly every model of a large plan.

        The manifest's spec equals the one last applied (so no input changed and
        the state keeps its record as it is), the live fields are exactly the
        manifest's, and nothing forces a replacement. Anything else takes the
        full rules of ``plan_desired``.
        """
        applied = record.applied
        return (
            applied is not None
            and applied == d.spec
            and record.candidate is None
            and not record.retired
            and self.live_unchanged(d, live)
        )

    def live_unchanged(self, d: DesiredModel, live: LiveModel) -> bool:
        """``unchanged`` once the record is known to hold ``d.spec`` and nothing under way:
        the training data is known, the live fields are the manifest's, nothing forces a
        replacement."""
        dataset = d.spec.dataset
        return (
            dataset is not None
            and dataset.hash is not None
            and live.state != FAILED
            and live.state != CREATING
            and mutable_unchanged(d.spec, live)
            and d.name not in self.options.replace
            and (d.depends_on is None or d.depends_on not in self.replaced)
            and self.follows_serving_source(d, live)
        )

    def leftovers(self, record: ModelRecord) -> tuple[str, ...]:
        """Live names of ``record``'s generations that no longer serve and are to be deleted:
        retired ones, and a candidate that failed (tuning, evaluation, or gone)."""
        found = list(record.retired)
        candidate = record.candidate
        if candidate is not None and self.candidate_failed(candidate):
            found.append(candidate.name)
        return tuple(found)

    def candidate_failed(self, candidate: ModelRecord) -> bool:
        live = self.live.get(candidate.name)
        if candidate.lastError is not None or (live is not None and live.state == FAILED):
            return True
        return live is None and candidate.applied is not None  # created, then gone

    def serving_source(self, d: DesiredModel) -> str | None:
        """The live name serving the managed model ``d`` is tuned from (None: not managed)."""
        parent = self.state.models.get(d.depends_on) if d.depends_on else None
        return parent.name if parent is not None else None

    def follows_serving_source(self, d: DesiredModel, live: LiveModel) -> bool:
        """False when ``live`` was tuned from a generation of its source that no longer serves."""
        parent = self.serving_source(d)
        return parent is None or live.tuned_model_source in (None, parent)

    def plan_desired(self, d: DesiredModel) -> Action:
        models = self.state.models
        if isinstance(models, StoredRecords):
            # A record kept as stored text is settled by its text, never built, when
            # it holds exactly this spec and nothing is under way (most of a large plan).
            settled = models.settled_name(d.name, d.spec)
            live = self.live.get(settled) if settled is not None else None
            if settled is not None and live is not None and self.live_unchanged(d, live):
                return self.desired_action(d, settled, live, ActionKind.NOOP, spec=d.spec)
        record = models.get(d.name)
        model_name = record.name if record else d.model_name
        live = self.live.get(model_name)
        if record is not None and live is not None and self.unchanged(d, record, live):
            return self.desired_action(d, model_name, live, ActionKind.NOOP, spec=record.applied)
        cleanup = self.leftovers(record) if record is not None else ()
        candidate = record.candidate if record is not None else None
        if candidate is not None and candidate.name in cleanup:
            candidate = None

        def creates(kind: ActionKind, **fields: object) -> Action:
            return self.desired_action(
                d,
                model_name,
                live,
                kind,
                spec=d.spec,
                estimated_steps=d.estimated_steps,
                cleanup=cleanup,
                **fields,
            )

        if (
            record is not None
            and candidate is not None
            and live is not None
            and (candidate.name in self.live)
        ):
            # The successor is tuning (or done and not yet promoted): follow it.
            self.replaced.add(d.name)
            state = self.live[candidate.name].state
            return self.desired_action(
                d,
                model_name,
                live,
                ActionKind.WAIT,
                spec=candidate.applied or candidate.pendingCreate,
                successor=candidate.name,
                cleanup=cleanup,
                reasons=(f"{NOTE_IN_FLIGHT} ({candidate.name} is {state})",),
                notes=(NOTE_ADOPT,) if candidate.applied is None else (),
            )

        if record is None:
            if live is not None:
                self.conflict(
                    f"{d.address}: {d.model_name} exists but this state does not manage it",
                    f"reconciler import {d.name} {d.model_name}",
                )
            return creates(ActionKind.CREATE, reasons=(REASON_NEW,))
        adopting = record.applied is None
        if live is None:
            if record.replacing:
                return creates(ActionKind.CREATE, reasons=(REASON_REPLACEMENT_INTERRUPTED,))
            if adopting:
                return creates(ActionKind.CREATE, reasons=(REASON_INTERRUPTED,))
            return creates(ActionKind.RECREATE, reasons=(_gone_reason(record),))
        # A record with neither applied nor pendingCreate carries no history: nothing to compare.
        basis = record.applied or record.pendingCreate or d.spec
        notes: list[str] = [NOTE_ADOPT] if adopting else []
        immutable = () if inputs_unchanged(d.spec, basis) else desired_vs_applied(d, basis, live)
        reasons = [_immutable_reason(change) for change in immutable]
        if live.state == FAILED:
            reasons.append(
                f"{REASON_FAILED}: {record.lastError}" if record.lastError else REASON_FAILED
            )
        if d.name in self.options.replace:
            reasons.append(REASON_FORCED)
        if d.depends_on is not None and d.depends_on in self.replaced:
            reasons.append(f"source model {d.depends_on} is replaced")
        elif not self.follows_serving_source(d, live):
            reasons.append(
                f"source model {d.depends_on} serves a new generation ({self.serving_source(d)})"
            )
        ignored = d.lifecycle.ignore_changes
        mutable: tuple[FieldChange, ...] = ()
        if not mutable_unchanged(d.spec, live):
            mutable = tuple(c for c in desired_vs_live(d, live) if c.path not in ignored)
        failed = record.failed_attempt()
        if (
            reasons
            and failed is not None
            and d.lifecycle.create_before_destroy
            and len(reasons) == len(immutable)  # only inputs changed: nothing else forces it
            and inputs_unchanged(d.spec, failed.spec)
        ):
            # Those very inputs were tuned and failed: another billed attempt would
            # likely fail alike. The model keeps serving until the manifest changes
            # them or --replace asks for another try.
            reasons = []
            notes.append(_not_retried(d.name, failed.name, failed.error))
        if candidate is not None and not reasons:
            # A successor was started (never created) and the manifests went back: drop it.
            cleanup = (*cleanup, candidate.name)
        if reasons:
            self.replaced.add(d.name)
            if d.lifecycle.prevent_destroy:
                self.conflict(
                    f"{d.address} has lifecycle.preventDestroy but must be replaced ({'; '.join(reasons)})",
                    "remove lifecycle.preventDestroy to allow it, or revert the change",
                )
            changes = (*immutable, *mutable)
            successor = None
            if d.lifecycle.create_before_destroy:
                successor = (
                    candidate.name
                    if candidate is not None
                    else generation_name(d.name, record.generation + 1)
                )
                notes.append(f"createBeforeDestroy: {successor} tunes while {model_name} serves")
            else:
                notes.append(NOTE_UNAVAILABLE)
            return creates(
                ActionKind.REPLACE,
                changes=changes,
                reasons=tuple(reasons),
                notes=tuple(notes),
                successor=successor,
            )
        if basis.dataset is None or basis.dataset.hash is None:
            notes.append(NOTE_UNKNOWN_DATA)

        def updated(kind: ActionKind, **fields: object) -> Action:
            # What state records once this action is done: applied inputs + the manifest's mutable fields.
            spec = _merged_spec(basis, d)
            return self.desired_action(
                d, model_name, live, kind, spec=spec, notes=tuple(notes), cleanup=cleanup, **fields
            )

        if live.state == CREATING:
            if mutable:
                # The API takes a PATCH of a mutable field while the model tunes; waiting
                # instead would hide the change until a later apply (none, in a pipeline
                # that applies once per merge). Apply follows the tuning after the PATCH.
                notes.append(NOTE_IN_FLIGHT)
            else:
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
        extra = [*record.retired]
        if record.candidate is not None:
            extra.append(record.candidate.name)
        return self.base(
            name,
            record.name,
            ActionKind.DELETE,
            reasons=(REASON_REMOVED,),
            notes=notes,
            cleanup=tuple(extra),
            depends_on=parent_of(name, self.desired, self.state),
            prevent_destroy=record.preventDestroy,
            dataset=basis.dataset if basis else None,
        )

    def plan_drift(self, name: str, record: ModelRecord) -> Action:
        live = self.live.get(record.name)
        d = self.desired.models.get(name)
        common: dict[str, object] = {
            "depends_on": parent_of(name, self.desired, self.state),
            "prevent_destroy": d.lifecycle.prevent_destroy if d else record.preventDestroy,
            "spec": record.applied,
            "dataset": record.applied.dataset if record.applied else None,
        }
        if live is None and record.replacing:
            return self.base(
                name,
                record.name,
                ActionKind.NOOP,
                notes=(REASON_REPLACEMENT_INTERRUPTED,),
                **common,
            )
        if record.applied is None:
            note = NOTE_ADOPT if live is not None else REASON_INTERRUPTED
            return self.base(name, record.name, ActionKind.NOOP, notes=(note,), **common)
        if live is None:
            return self.base(
                name, record.name, ActionKind.RECREATE, reasons=(_gone_reason(record),), **common
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
        names = selected(self.desired, self.state, self.options)
        for name in sorted(self.options.replace):
            if name not in self.desired.models:
                raise unknown_name_error("--replace", name, self.desired.models)
        parents = {name: parent_of(name, self.desired, self.state) for name in names}
        actions: list[Action] = []
        if self.options.refresh_only:
            actions = [
                self.plan_drift(n, self.state.models[n]) for n in names if n in self.state.models
            ]
            ordered = execution_order(actions, parents)
        else:
            # Parents first, so a replaced parent is known when its children are planned.
            desired_models = self.desired.models
            for name in topological(names, parents):
                d = desired_models.get(name)
                if d is not None:
                    actions.append(self.plan_desired(d))
                else:
                    actions.append(self.plan_removed(name, self.state.models[name]))
            actions = with_evaluations(actions, desired=self.desired, state=self.state)
            ordered = planned_order_for_execution(actions)
        if isinstance(self.state.models, StoredRecords):
            self.state.models.check_all()  # a damaged record outside the plan's scope too
        if self.conflicts:
            count = len(self.conflicts)
            head = "plan has a conflict" if count == 1 else f"plan has {count} conflicts"
            raise PlanError(f"{head}: {'; '.join(self.conflicts)}", hint="; ".join(self.hints))
        return Plan(
            actions=ordered,
            state_lineage=self.state.lineage,
            state_serial=self.state.serial,
            refresh_only=self.options.refresh_only,
        )
