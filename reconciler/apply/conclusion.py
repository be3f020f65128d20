"""How a tuning ends: the one place that decides and records it.

``apply`` (following the tunings it started) and ``reconciler wait``
(following them later) both hand every model that stopped tuning to
``conclude_tuning``. Whatever is decided when a tuning ends (succeeded,
failed, passed or failed its evaluation) is decided here, once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.applied import ModelRecord
from reconciler.apply.generations import without
from reconciler.apply.journal import StateJournal
from reconciler.errors import NotFoundError, ReconcilerError, StateLockedError
from reconciler.live import ACTIVE, FAILED, LiveModel, OperationStatus


@dataclass(frozen=True)
class GateResult:
    """What a gate decided about a model that finished tuning.

    ``detail`` says why it did not pass (it names the metric), for the user.
    ``record`` holds fields the gate wants stored on the model's state record
    (the manifest name's record, also for a createBeforeDestroy candidate) with
    the conclusion (its evaluation result, say); they are written in the same
    state write as the conclusion itself, so they can never disagree. They
    replace the record's values of those fields.
    """

    passed: bool
    detail: str = ""
    record: Mapping[str, object] = field(default_factory=dict)
    # What a passing gate checked, for the user ("evaluation increment-check passed").
    summary: str = ""

    def active(self, rest: str = "") -> str:
        """The message of a model concluded ACTIVE past this gate."""
        return ", ".join(part for part in ("ACTIVE", self.summary, rest) if part)


# gate(manifest name, the live model that just became ACTIVE) -> GateResult
Gate = Callable[[str, LiveModel], GateResult]


def no_gate(model: str, live: LiveModel) -> GateResult:
    """The gate of a model with nothing to check: it passes."""
    return GateResult(passed=True)


class OperationReader(Protocol):
    def get_operation(self, name: str) -> OperationStatus: ...

    def delete_tuned_model(self, name: str) -> None: ...


def followed_operation(record: ModelRecord | None, live_name: str) -> str | None:
    """The operation recorded for the live model ``live_name`` of ``record``: the
    serving generation's, or its candidate's (createBeforeDestroy)."""
    if record is None:
        return None
    if record.candidate is not None and record.candidate.name == live_name:
        return record.candidate.operation
    return record.operation


def tuning_of(record: ModelRecord) -> str | None:
    """The live name of ``record``'s generation that is (or may be) tuning, if any."""
    candidate = record.candidate
    if (
        candidate is not None
        and candidate.lastError is None
        and (candidate.operation or candidate.pendingCreate)
    ):
        return candidate.name
    if record.operation or record.pendingCreate:
        return record.name
    return None


@dataclass(frozen=True)
class Conclusion:
    """How one tuning ended, for the command to report.

    ``succeeded``: ACTIVE and passed its gate. ``message`` is what happened
    ("ACTIVE", "tuning failed: ...", a gate's detail); ``note`` is set when the
    outcome could not be written to the state (another command held the lock,
    or changed the record meanwhile).
    """

    succeeded: bool
    message: str
    note: str = ""
    gate_failed: bool = False


def conclude_tuning(
    *,
    model: str,
    live: LiveModel,
    followed: str | None,
    journal: StateJournal,
    client: OperationReader,
    gate: Gate = no_gate,
) -> Conclusion:
    """Decide and record how the tuning of ``model`` (a manifest name) ended.

    ``live`` is the model as last seen, no longer CREATING; ``followed`` the
    operation name the caller was following (the record's ``operation`` when
    it started following). The outcome is recorded only on a record that still
    carries that operation: a record another command concluded, replaced or
    forgot meanwhile is that command's to keep.

    * ACTIVE: ``gate(model, live)`` runs first (``no_gate`` passes: a model
      without an evaluation). Its ``record`` fields are stored with the
      conclusion. Passed: the model is concluded as succeeded (operation
      cleared, error cleared, live timestamps stored). Not passed: the tuning
      is over, but the model is marked with the gate's detail as ``lastError``
      and the conclusion is a failure (the command exits 1 naming it).
    * FAILED: the operation's error is fetched once and stored as
      ``lastError``; the next plan replaces the model.
    * DELETED (gone while being followed): nothing is recorded; the record
      still says what the next plan needs to create it again.

    A record still holding a ``pendingCreate`` (a create adopted by ``wait``)
    has it promoted to ``applied`` with the conclusion.

    ``live`` may be the record's ``candidate`` (createBeforeDestroy): passed,
    it is promoted to the serving generation and the old one is deleted;
    failed (tuning or gate), it is marked and the old one keeps serving.
    """
    record = journal.record(model)
    if record is not None and record.candidate is not None and record.candidate.name == live.name:
        return _conclude_candidate(
            model=model, live=live, followed=followed, journal=journal, client=client, gate=gate
        )
    if live.state == ACTIVE:
        gate_result = gate(model, live)
        changes: dict[str, object] = {
            "operation": None,
            "lastError": None if gate_result.passed else gate_result.detail,
            "createTime": live.create_time,
            "updateTime": live.update_time,
            **gate_result.record,
        }
        note = _record(journal, model, record, followed, changes)
        if gate_result.passed:
            return Conclusion(succeeded=True, message=gate_result.active(), note=note)
        return Conclusion(succeeded=False, message=gate_result.detail, note=note, gate_failed=True)
    if live.state == FAILED:
        message = _failure_message(client, followed)
        note = _record(journal, model, record, followed, {"operation": None, "lastError": message})
        return Conclusion(succeeded=False, message=message, note=note)
    if record is not None and record.deleting:
        message = (
            "deleted by an interrupted destroy or apply (not outside the reconciler); "
            "`reconciler plan` shows what is left to do"
        )
    elif record is not None and record.applied is None:
        message = (
            "its create never reached the API (an interrupted apply); `reconciler apply` creates it"
        )
    else:
        message = "deleted outside the reconciler; `reconciler apply` recreates it"
    return Conclusion(succeeded=False, message=message)


def _failure_message(client: OperationReader, operation_name: str | None) -> str:
    message = "tuning failed"
    if operation_name:
        try:
            operation = client.get_operation(operation_name)
        except ReconcilerError:
            return message
        error = operation.error_message or ""
        # The API's own message often starts "Tuning failed: ..." already.
        if error.lower().startswith("tuning failed"):
            message += error[len("tuning failed") :]
        elif error:
            message = f"tuning failed: {error}"
    return message


def _record(
    journal: StateJournal,
    model: str,
    record: ModelRecord | None,
    followed: str | None,
    changes: dict[str, object],
) -> str:
    """Store ``changes``; returns a note for the user when they could not be.

    The run may no longer hold the lock (apply gives it up while only tuning is
    followed): a state locked by another command for longer than the wait is
    not an error of this model. Its record keeps the operation, which the next
    ``apply`` or ``reconciler wait`` concludes.
    """
    if record is None:
        return ""
    if record.applied is None and record.pendingCreate is not None:
        changes = {"applied": record.pendingCreate, "pendingCreate": None, **changes}
    try:
        recorded = journal.conclude_tuning(model, operation=followed, changes=changes)
    except StateLockedError:
        return (
            "not recorded in state, another command kept the lock:"
            " the next apply or `reconciler wait` records it"
        )
    if not recorded:
        return "its state record was changed by another command meanwhile and is kept as is"
    return ""


def _conclude_candidate(
    *,
    model: str,
    live: LiveModel,
    followed: str | None,
    journal: StateJournal,
    client: OperationReader,
    gate: Gate,
) -> Conclusion:
    """``conclude_tuning`` for a createBeforeDestroy candidate (see ``generations``)."""
    serving: list[str] = []

    def ours(current: ModelRecord) -> ModelRecord | None:
        candidate = current.candidate
        if candidate is None or candidate.name != live.name or candidate.operation != followed:
            return None  # another command concluded, replaced or forgot it meanwhile
        return candidate

    def mark(changes: dict[str, object], extra: Mapping[str, object] | None = None) -> str:
        def change(current: ModelRecord) -> ModelRecord | None:
            candidate = ours(current)
            if candidate is None:
                return None
            update = {"candidate": candidate.model_copy(update=changes), **(extra or {})}
            return current.model_copy(update=update)

        return _write(journal, model, change)

    if live.state == ACTIVE:
        gate_result = gate(model, live)
        if not gate_result.passed:
            note = mark({"operation": None, "lastError": gate_result.detail}, gate_result.record)
            return Conclusion(
                succeeded=False,
                message=f"{gate_result.detail}; {live.name} is not promoted",
                note=note,
                gate_failed=True,
            )

        def promote(current: ModelRecord) -> ModelRecord | None:
            candidate = ours(current)
            if candidate is None:
                return None
            serving.append(current.name)
            retired = [*current.retired, current.name] if current.name != live.name else []
            return current.model_copy(
                update={
                    "name": candidate.name,
                    "applied": candidate.applied or candidate.pendingCreate,
                    "pendingCreate": None,
                    "operation": None,
                    "lastError": None,
                    "createTime": live.create_time,
                    "updateTime": live.update_time,
                    "replacing": False,
                    "candidate": None,
                    "retired": retired,
                    **gate_result.record,
                }
            )

        note = _write(journal, model, promote)
        if note or not serving:
            return Conclusion(succeeded=True, message=gate_result.active(), note=note)
        old = serving[0]
        try:
            with contextlib.suppress(NotFoundError):
                client.delete_tuned_model(old)
        except ReconcilerError as exc:
            return Conclusion(
                succeeded=True,
                message=gate_result.active(
                    f"now serving; {old} is not deleted yet ({exc.message})"
                ),
                note="the next apply deletes it",
            )
        note = _write(journal, model, lambda current: without(current, old))
        return Conclusion(
            succeeded=True, message=gate_result.active(f"now serving; {old} deleted"), note=note
        )
    if live.state == FAILED:
        message = _failure_message(client, followed)
        note = mark({"operation": None, "lastError": message})
        return Conclusion(
            succeeded=False, message=f"{message}; {live.name} is not promoted", note=note
        )
    return Conclusion(
        succeeded=False, message=f"{live.name} was deleted outside the reconciler while tuning"
    )


def _write(
    journal: StateJournal, model: str, change: Callable[[ModelRecord], ModelRecord | None]
) -> str:
    """``journal.change_record`` with the notes of ``_record``."""
    try:
        recorded = journal.change_record(model, change)
    except StateLockedError:
        return (
            "not recorded in state, another command kept the lock:"
            " the next apply or `reconciler wait` records it"
        )
    if not recorded:
        return "its state record was changed by another command meanwhile and is kept as is"
    return ""
