"""Following tunings until they end: many models by listing, one operation by GET.

Polling many models costs one list page per poll (up to 1000 models), not one
GET per model; when the project holds far more models than are being waited
for, GETs of the pending ones are cheaper and are used instead. The poll
interval grows by ``POLL_BACKOFF`` up to ``max_poll_interval``: a tuning takes
minutes to hours, so polling fast for its whole length only spends quota.

Time comes from the injected clock and sleep, so tests of a long tuning run
take milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import NotFoundError
from reconciler.live import ACTIVE, CREATING, DELETED, FAILED, LiveModel, OperationStatus, Snapshot

POLL_BACKOFF = 1.5
FINAL_STATES = frozenset({ACTIVE, FAILED, DELETED})


@dataclass(frozen=True)
class ProgressUpdate:
    """How far one tuning has got, as reported to an ``on_progress`` callback."""

    model: str  # "tunedModels/<id>"
    state: str  # CREATING | ACTIVE | FAILED | DELETED
    completed_steps: int
    total_steps: int | None  # None when unknown
    percent: float | None  # 0..100; None when the total is unknown
    latest_snapshot: Snapshot | None


class _Reader(Protocol):
    def list_tuned_models(
        self, *, filter: str | None = None, page_size: int = 1000
    ) -> Iterator[LiveModel]: ...

    def get_tuned_model(self, name: str) -> LiveModel: ...

    def list_operations(self, model: str) -> list[OperationStatus]: ...

    def get_operation(self, name: str) -> OperationStatus: ...


def model_name(name: str) -> str:
    """``x`` or ``tunedModels/x`` -> ``tunedModels/x``."""
    return name if name.startswith("tunedModels/") else f"tunedModels/{name}"


def _progress(model: LiveModel, total: int | None) -> ProgressUpdate:
    latest = model.snapshots[-1] if model.snapshots else None
    completed = latest.step if latest else 0
    if model.state == ACTIVE and total:
        completed = total
    percent = min(100.0, 100.0 * completed / total) if total else None
    return ProgressUpdate(
        model=model.name,
        state=model.state,
        completed_steps=completed,
        total_steps=total,
        percent=percent,
        latest_snapshot=latest,
    )


def wait_for_models(
    reader: _Reader,
    names: Collection[str],
    *,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    total_steps: Mapping[str, int] | None,
    on_progress: Callable[[ProgressUpdate], None] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> dict[str, LiveModel]:
    """See ``GeminiClient.wait_for_models``."""
    wanted = {model_name(n): n for n in names}
    totals: dict[str, int | None] = {}
    for given, value in (total_steps or {}).items():
        totals[model_name(given)] = value
    latest: dict[str, LiveModel] = {}
    reported: dict[str, tuple[str, int]] = {}
    deadline = None if timeout is None else clock() + timeout
    interval = poll_interval
    list_pages = 0  # pages the last full listing took; 0 = not listed yet
    while True:
        pending = [
            n for n in wanted if latest.get(n) is None or latest[n].state not in FINAL_STATES
        ]
        if not pending:
            break
        if list_pages and len(pending) < list_pages:
            seen = {n: _get_or_deleted(reader, n) for n in pending}
        else:
            seen, list_pages = _list_all(reader, pending)
        latest.update(seen)
        if on_progress is not None:
            for name, model in seen.items():
                if name not in totals and model.state == CREATING:
                    totals[name] = _total_from_operations(reader, name)
                update = _progress(model, totals.get(name))
                seen_key = (update.state, update.completed_steps)
                if reported.get(name) != seen_key:
                    reported[name] = seen_key
                    on_progress(update)
        if all(latest[n].state in FINAL_STATES for n in wanted):
            break
        now = clock()
        if deadline is not None and now >= deadline:
            break
        nap = interval if deadline is None else min(interval, deadline - now)
        sleep(nap)
        interval = min(max_poll_interval, interval * POLL_BACKOFF)
    return {original: latest[name] for name, original in wanted.items()}


def _list_all(reader: _Reader, pending: list[str]) -> tuple[dict[str, LiveModel], int]:
    """Every pending model from a full listing (absent = DELETED), and the page count."""
    found: dict[str, LiveModel] = {}
    wanted = set(pending)
    count = 0
    for model in reader.list_tuned_models():
        count += 1
        if model.name in wanted:
            found[model.name] = model
    for name in wanted - found.keys():
        found[name] = LiveModel(name=name, state=DELETED)
    return found, max(1, math.ceil(count / 1000))


def _get_or_deleted(reader: _Reader, name: str) -> LiveModel:
    try:
        return reader.get_tuned_model(name)
    except NotFoundError:
        return LiveModel(name=name, state=DELETED)


def _total_from_operations(reader: _Reader, name: str) -> int | None:
    """totalSteps of the model's newest tuning operation, or None when there is none."""
    try:
        operations = reader.list_operations(name)
    except NotFoundError:
        return None
    totals = [op.total_steps for op in operations if op.total_steps]
    return totals[-1] if totals else None


def wait_for_operation(
    reader: _Reader,
    name: str,
    *,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    on_progress: Callable[[ProgressUpdate], None] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> OperationStatus:
    """See ``GeminiClient.wait_for_operation``."""
    deadline = None if timeout is None else clock() + timeout
    interval = poll_interval
    last: tuple[bool, int] | None = None
    while True:
        operation = reader.get_operation(name)
        if on_progress is not None and (operation.done, operation.completed_steps) != last:
            last = (operation.done, operation.completed_steps)
            on_progress(_operation_progress(operation))
        if operation.done:
            return operation
        now = clock()
        if deadline is not None and now >= deadline:
            return operation
        sleep(interval if deadline is None else min(interval, deadline - now))
        interval = min(max_poll_interval, interval * POLL_BACKOFF)


def _operation_progress(operation: OperationStatus) -> ProgressUpdate:
    if not operation.done:
        state = CREATING
    elif operation.error_code is not None:
        state = FAILED
    else:
        state = ACTIVE
    total = operation.total_steps or None
    return ProgressUpdate(
        model=operation.model,
        state=state,
        completed_steps=operation.completed_steps,
        total_steps=total,
        percent=operation.completed_percent if total else None,
        latest_snapshot=operation.snapshots[-1] if operation.snapshots else None,
    )
