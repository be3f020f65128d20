"""The API calls of one action, each wrapped in its write-ahead state records.

Runs on the executor's worker threads. The protocol (see ``executor``):

* create / recreate: record ``pendingCreate`` -> POST with ``tunedModelId`` ->
  record ``applied`` + ``operation``.
* replace: record ``pendingCreate`` + ``replacing`` -> DELETE (a 404 is fine) ->
  record the create's intent (``applied`` cleared, still ``replacing``) ->
  create as above (which clears ``replacing``).
* update: PATCH with the plan's ``updateMask`` -> record the merged spec.
* delete: DELETE (a 404 is fine) -> forget the record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

from reconciler.applied import ModelRecord
from reconciler.apply.generations import (
    SuccessorFailed,
    adopt_candidate,
    clean_up,
    start_successor,
)
from reconciler.apply.journal import StateJournal
from reconciler.apply.live_names import name_for_create
from reconciler.apply.outcomes import (
    ActionResult,
    Outcome,
    abandoned_replacement,
    accepted_values,
    stale_operation,
)
from reconciler.apply.progress import Reporter
from reconciler.apply.stored import dataset_objects
from reconciler.errors import (
    AlreadyExistsError,
    ApiError,
    ApplyError,
    NotFoundError,
    ReconcilerError,
    StateError,
)
from reconciler.live import CREATING
from reconciler.plan import CREATING_KINDS, Action, ActionKind
from reconciler.providers import TuningProvider
from reconciler.spec import AppliedSpec, Example, LoadedDataset


class ActionRunner:
    """Performs single actions; holds what every action needs (client, journal, datasets)."""

    def __init__(
        self,
        *,
        client: TuningProvider,
        journal: StateJournal,
        datasets: Mapping[str, LoadedDataset],
        reporter: Reporter,
        evaluate: Callable[[Action], ActionResult] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.datasets = datasets
        self.reporter = reporter
        self.evaluate = evaluate  # carries out ``evaluate`` actions (``gating``)

    def perform(self, action: Action) -> ActionResult | None:
        """Run one action; None means "tuning started, follow it"."""
        self.reporter.started(action)
        try:
            if action.cleanup:  # generations that no longer serve go first
                clean_up(client=self.client, journal=self.journal, action=action)
            if action.kind is ActionKind.DELETE:
                return self.delete(action)
            if action.kind is ActionKind.UPDATE:
                return self.update(action)
            if action.kind in CREATING_KINDS:
                return self.create(action)
            if action.kind is ActionKind.EVALUATE and self.evaluate is not None:
                self.settle(action)
                return self.evaluate(action)
            return self.settle(action)
        except StateError:
            raise  # without a durable record, going on would orphan models
        except ReconcilerError as exc:
            return ActionResult(action, Outcome.FAILED, exc.message)

    def delete(self, action: Action) -> ActionResult:
        record = self.journal.record(action.model)
        if record is not None and not record.deleting and action.live_state is not None:
            # Written ahead: a run killed after the DELETE is sent must not leave a
            # record that reads as "deleted outside the reconciler".
            self.journal.put(action.model, record.model_copy(update={"deleting": True}))
        else:
            self.journal.ensure_held()  # no state write comes first: check the lock is ours
        try:
            with contextlib.suppress(NotFoundError):  # already gone: the goal is reached
                self.client.delete_tuned_model(action.name)
        except ApiError as exc:
            if record is not None and not exc.temporary:  # refused: the model is still there
                self.journal.put(action.model, record)
            raise
        self.journal.remove(action.model)
        return ActionResult(action, Outcome.SUCCEEDED, "deleted")

    def update(self, action: Action) -> ActionResult | None:
        """PATCH the mask; a model still tuning is then followed like a create (None)."""
        assert action.spec is not None
        self.journal.ensure_held()  # no state write comes first: check the lock is ours
        live = self.client.update_tuned_model(
            action.name, spec=action.spec, update_mask=action.update_mask
        )
        record = self.journal.record(action.model) or ModelRecord(name=action.name)
        changes: dict[str, object] = {
            "applied": action.spec,
            "pendingCreate": None,
            "replacing": False,
            "preventDestroy": action.prevent_destroy,
            "updateTime": live.update_time,
        }
        tuning = live.state == CREATING
        if tuning and record.operation is None:  # an adopted create: its operation unrecorded
            changes["operation"] = self.latest_operation(action.name)
        self.journal.put(action.model, record.model_copy(update=changes))
        if tuning:
            return None
        return ActionResult(action, Outcome.SUCCEEDED, "updated " + ", ".join(action.update_mask))

    def settle(self, action: Action) -> ActionResult | None:
        """noop / wait: adopt an interrupted create, keep preventDestroy current, follow tuning."""
        record = self.journal.record(action.model)
        if record is not None:
            changes: dict[str, object] = {}
            if record.applied is None and action.spec is not None:
                # Adopted: the create's answer is recorded now (a replacement's too).
                changes.update(applied=action.spec, pendingCreate=None, replacing=False)
                if record.operation is None and action.kind is ActionKind.WAIT:
                    changes["operation"] = self.latest_operation(action.name)
            if stale_operation(action, record):
                # A noop (or evaluate) model is live and not tuning: a run that ended
                # before it saw the tuning end left the operation behind; it is over.
                changes["operation"] = None
            if record.preventDestroy != action.prevent_destroy:
                changes["preventDestroy"] = action.prevent_destroy
            if accepted_values(action, record):
                changes["applied"] = action.spec
            if abandoned_replacement(action, record):
                # The replace was recorded but its delete never landed, and the
                # manifests no longer ask for it: the model stays as it is.
                changes.update(pendingCreate=None, replacing=False)
            if changes:
                self.journal.put(action.model, record.model_copy(update=changes))
        if action.kind is ActionKind.WAIT:
            if action.successor is not None:
                adopt_candidate(client=self.client, journal=self.journal, action=action)
            return None
        return ActionResult(action, Outcome.UNCHANGED, "")

    def latest_operation(self, name: str) -> str | None:
        operations = self.client.list_operations(name)
        return operations[-1].name if operations else None

    def create(self, action: Action) -> ActionResult | None:
        spec = action.spec
        assert spec is not None
        if spec.dataset is None or spec.dataset.name not in self.datasets:
            return ActionResult(action, Outcome.FAILED, "training data is not loaded")
        examples = self.datasets[spec.dataset.name].examples
        validation = self.validation_examples(spec)
        source = self.journal.record(action.depends_on) if action.depends_on else None
        failed = source.failed_gate() if source is not None else None
        if failed is not None:
            # Tuning from a model that failed its evaluation would build on it.
            missed = ", ".join(
                f"{m.type} {m.score:.2f} < {m.threshold:.2f}" for m in failed.failed_metrics
            )
            return ActionResult(
                action,
                Outcome.SKIPPED,
                f"source model {action.depends_on} is below a threshold of its evaluation "
                f"{failed.evaluation}: {missed}",
            )
        sent = self.with_serving_source(action, spec)
        if action.kind is ActionKind.REPLACE and action.successor is not None:
            try:
                start_successor(
                    client=self.client,
                    journal=self.journal,
                    action=action,
                    spec=sent,
                    examples=examples,
                    validation=validation,
                )
            except SuccessorFailed as exc:
                return ActionResult(action, Outcome.FAILED, f"{exc}; {action.name} keeps serving")
            return None
        before = self.journal.record(action.model)
        deleted = False
        if action.kind is ActionKind.REPLACE:
            # The replacement is state before its first request: a crash or a
            # rejected create after the delete leaves a record from which the
            # next plan creates the successor (not "deleted outside").
            started = before or ModelRecord(name=action.name)
            self.journal.put(
                action.model, started.model_copy(update={"pendingCreate": spec, "replacing": True})
            )
            with contextlib.suppress(NotFoundError):
                self.client.delete_tuned_model(action.name)
            deleted = True
        live = name_for_create(
            self.client.capabilities,
            planned=action.name,
            model=action.model,
            before=before,
            deleted=deleted,
        )
        model_id = live.removeprefix("tunedModels/")
        intent = ModelRecord(
            name=live,
            pendingCreate=spec,
            preventDestroy=action.prevent_destroy,
            replacing=deleted or (before is not None and before.replacing),
        )
        self.journal.put(action.model, intent)
        try:
            operation = self.client.create_tuned_model(
                model_id=model_id, spec=sent, examples=examples, validation=validation
            )
            operation_name: str | None = operation.name
            stored = dataset_objects(operation)
        except AlreadyExistsError as exc:
            if not exc.after_retry:
                self.roll_back(action, before, intent)
                return ActionResult(
                    action,
                    Outcome.FAILED,
                    f"{live} already exists and was not created by this run; "
                    f"bring it under management with `reconciler import {action.model} {live}`",
                    deleted_old=deleted,
                )
            operation_name = self.latest_operation(live)  # our lost answer: adopt
            stored = []
        except ApiError as exc:
            if not exc.temporary:
                self.roll_back(action, before, intent)  # rejected: nothing was created
            if not deleted:
                raise
            return ActionResult(
                action,
                Outcome.FAILED,
                f"{exc.message}; the old model is deleted and its successor not created: "
                "the next apply creates it",
                deleted_old=True,
            )
        self.journal.put(
            action.model,
            intent.model_copy(
                update={
                    "applied": spec,
                    "pendingCreate": None,
                    "operation": operation_name,
                    "replacing": False,
                    "datasetObjects": stored,
                }
            ),
        )
        return None

    def validation_examples(self, spec: AppliedSpec) -> list[Example] | None:
        """The validation examples a create sends (Vertex AI), if the spec names a dataset."""
        if spec.validationDataset is None:
            return None
        loaded = self.datasets.get(spec.validationDataset.name)
        if loaded is None:
            raise ApplyError(f"validation data {spec.validationDataset.name} is not loaded")
        return list(loaded.examples)

    def with_serving_source(self, action: Action, spec: AppliedSpec) -> AppliedSpec:
        """``spec`` as sent: a managed source is named by the generation serving it now.

        The state records the manifest's form (``tunedModels/<name>``), so plans
        compare like with like; the request must name the live model.
        """
        if action.depends_on is None:
            return spec
        parent = self.journal.record(action.depends_on)
        if parent is None or parent.name == spec.tunedModelSource:
            return spec
        return spec.model_copy(update={"tunedModelSource": parent.name})

    def roll_back(self, action: Action, before: ModelRecord | None, intent: ModelRecord) -> None:
        """A create was rejected (nothing was made): the record goes back to what it said.

        Part of a replacement (the old model is gone), the intent stays: the next
        plan finishes the replacement with a create.
        """
        if intent.replacing:
            return
        if before is None:
            self.journal.remove(action.model)
        else:
            self.journal.put(action.model, before)
