"""createBeforeDestroy: a model's generations, started, promoted and cleaned up.

A replace of such a model tunes its successor under its own id
(``tunedModels/<name>-<n>``) while the serving generation keeps answering.
Every step is written to the state before the request it prepares
(``reconciler.applied`` draws the protocol):

* start: ``generation`` + 1 and a ``candidate`` record with ``pendingCreate``
  -> POST -> the candidate's ``applied`` + ``operation``;
* promote (when the candidate is ACTIVE and passed its gate, see
  ``conclusion``): one write makes the candidate the serving record and lists
  the old name under ``retired`` -> DELETE the old model -> drop it from
  ``retired``;
* clean up (the next apply, for a failed candidate or a retired generation a
  crash left behind): DELETE -> drop it from the record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Protocol

from reconciler.applied import ModelRecord
from reconciler.apply.journal import StateJournal
from reconciler.apply.live_names import fresh_name
from reconciler.apply.stored import dataset_objects
from reconciler.capabilities import Capabilities
from reconciler.errors import AlreadyExistsError, ApiError, NotFoundError
from reconciler.live import OperationStatus
from reconciler.plan import Action
from reconciler.spec import AppliedSpec, Example, generation_name


class GenerationClient(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...

    def create_tuned_model(
        self,
        *,
        model_id: str,
        spec: AppliedSpec,
        examples: Sequence[Example],
        validation: Sequence[Example] | None = None,
    ) -> OperationStatus: ...

    def delete_tuned_model(self, name: str) -> None: ...

    def list_operations(self, model: str) -> list[OperationStatus]: ...


def without(record: ModelRecord, name: str) -> ModelRecord | None:
    """``record`` no longer mentioning the deleted generation ``name`` (None: it did not)."""
    retired = [n for n in record.retired if n != name]
    candidate = record.candidate
    changes: dict[str, object] = {"retired": retired}
    if candidate is not None and candidate.name == name:
        failed = record.failed_attempt()
        if failed is not None and failed.name == name:  # its inputs are not retried unasked
            changes["lastFailedAttempt"] = failed
        candidate = None
    if retired == record.retired and candidate is record.candidate:
        return None
    return record.model_copy(update={**changes, "candidate": candidate})


def delete_generation(
    *, client: GenerationClient, journal: StateJournal, model: str, name: str
) -> None:
    """DELETE a generation that no longer serves (gone already is fine), then forget it."""
    journal.ensure_held()  # no state write comes first: check the lock is ours
    with contextlib.suppress(NotFoundError):
        client.delete_tuned_model(name)
    journal.change_record(model, lambda record: without(record, name))


def clean_up(*, client: GenerationClient, journal: StateJournal, action: Action) -> None:
    """Delete the leftover generations the plan lists for ``action`` (``Action.cleanup``)."""
    for name in action.cleanup:
        delete_generation(client=client, journal=journal, model=action.model, name=name)


class SuccessorFailed(Exception):
    """The successor's create was refused; ``str()`` says why."""


def start_successor(
    *,
    client: GenerationClient,
    journal: StateJournal,
    action: Action,
    spec: AppliedSpec,
    examples: Sequence[Example],
    validation: Sequence[Example] | None = None,
) -> None:
    """Create ``action.successor`` while the serving generation stays; record each step.

    ``spec`` is what is sent (the source resolved to its serving generation);
    ``action.spec`` is what the state records. Raises ``SuccessorFailed`` for a
    create that was refused (the candidate is forgotten: nothing was made) and
    lets an uncertain ``ApiError`` through (the candidate's intent stays for the
    next run to adopt or create).
    """
    assert action.successor is not None and action.spec is not None
    successor = action.successor
    record = journal.record(action.model)
    if record is None:
        raise SuccessorFailed(f"{action.model} is no longer in the state")
    if record.candidate is not None and record.candidate.name == successor:
        generation = record.generation  # an interrupted start: same id, never a new one
        live = successor
    else:
        generation = record.generation + 1
        if generation_name(action.model, generation) != successor:
            raise SuccessorFailed(
                f"the state moved to generation {record.generation} since the plan named "
                f"{successor}; plan again"
            )
        live = fresh_name(client.capabilities, successor)
    intent = ModelRecord(
        name=live, pendingCreate=action.spec, preventDestroy=action.prevent_destroy
    )
    journal.put(
        action.model,
        record.model_copy(
            update={"generation": generation, "candidate": intent, "lastFailedAttempt": None}
        ),
    )
    model_id = live.removeprefix("tunedModels/")
    try:
        answer = client.create_tuned_model(
            model_id=model_id, spec=spec, examples=examples, validation=validation
        )
        operation: str | None = answer.name
        stored = dataset_objects(answer)
    except AlreadyExistsError as exc:
        if not exc.after_retry:
            journal.change_record(action.model, lambda r: without(r, live))
            raise SuccessorFailed(
                f"{live} already exists and was not created by this run"
            ) from None
        operations = client.list_operations(live)  # our lost answer: adopt
        operation = operations[-1].name if operations else None
        stored = []
    except ApiError as exc:
        if not exc.temporary:  # refused: nothing was made
            journal.change_record(action.model, lambda r: without(r, live))
            raise SuccessorFailed(exc.message) from None
        raise
    created = intent.model_copy(
        update={
            "applied": action.spec,
            "pendingCreate": None,
            "operation": operation,
            "datasetObjects": stored,
        }
    )

    def record_created(current: ModelRecord) -> ModelRecord | None:
        if current.candidate is None or current.candidate.name != live:
            return None
        return current.model_copy(update={"candidate": created})

    journal.change_record(action.model, record_created)


def adopt_candidate(*, client: GenerationClient, journal: StateJournal, action: Action) -> None:
    """A candidate whose create landed but was never recorded: record it as created."""
    record = journal.record(action.model)
    candidate = record.candidate if record is not None else None
    if candidate is None or candidate.name != action.successor or candidate.applied is not None:
        return
    operations = client.list_operations(candidate.name)
    adopted = candidate.model_copy(
        update={
            "applied": candidate.pendingCreate,
            "pendingCreate": None,
            "operation": operations[-1].name if operations else None,
        }
    )
    journal.change_record(
        action.model,
        lambda r: (
            r.model_copy(update={"candidate": adopted})
            if r.candidate is not None and r.candidate.name == adopted.name
            else None
        ),
    )
