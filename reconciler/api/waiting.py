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


class TuningPoller:
    """One poll of the models still tuning: a list pass, or GETs when far fewer are left.

    The one place that reads tuning progress; ``wait_for_models`` loops over it
    and ``apply``'s executor calls it between requests. It remembers how many
    pages the last full listing took, the totals it has looked up, and what it
    last reported, so ``on_progress`` hears of each change once.
    """

    def __init__(
        self,
        reader: _Reader,
        *,
        total_steps: Mapping[str, int | None] | None = None,
        on_progress: Callable[[ProgressUpdate], None] | None = None,
    ) -> None:
        self._reader = reader
        self._on_progress = on_progress
        # A name present with None means "unknown, do not look it up".
        self._totals: dict[str, int | None] = {
            model_name(given): value for given, value in (total_steps or {}).items()
        }
        self._reported: dict[str, tuple[str, int]] = {}
        self._list_pages = 0  # pages the last full listing took; 0 = not listed yet

    def set_total(self, name: str, total: int | None) -> None:
        self._totals[model_name(name)] = total

    def poll(self, names: Collection[str]) -> dict[str, LiveModel]:
        """The current live model of each ``tunedModels/x`` in ``names`` (gone: DELETED)."""
        pending = [model_name(n) for n in names]
        if self._list_pages and len(pending) < self._list_pages:
            seen = {n: _get_or_deleted(self._reader, n) for n in pending}
        else:
            seen, self._list_pages = _list_all(self._reader, pending)
        if self._on_progress is not None:
            for name, model in seen.items():
                if name not in self._totals and model.state == CREATING:
                    self._totals[name] = _total_from_operations(self._reader, name)
                update = _progress(model, self._totals.get(name))
                seen_key = (update.state, update.completed_steps)
                if self._reported.get(name) != seen_key:
                    self._reported[name] = seen_key
                    self._on_progress(update)
        return seen


def poll_until(
    step: Callable[[], bool],
    *,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    """Call ``step`` until it returns True or ``timeout`` seconds pass, backing off between.

    The one polling loop: every wait for a tuning goes through it.
    """
    deadline = None if timeout is None else clock() + timeout
    interval = poll_interval
    while not step():
        now = clock()
        if deadline is not None and now >= deadline:
            return
        sleep(interval if deadline is None else min(interval, deadline - now))
        interval = min(max_poll_interval, interval * POLL_BACKOFF)


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
    poller = TuningPoller(reader, total_steps=total_steps, on_progress=on_progress)
    latest: dict[str, LiveModel] = {}

    def step() -> bool:
        pending = [n for n in wanted if n not in latest or latest[n].state not in FINAL_STATES]
        if pending:
            latest.update(poller.poll(pending))
        return all(latest[n].state in FINAL_STATES for n in wanted)

    poll_until(
        step,
        timeout=timeout,
        poll_interval=poll_interval,
        max_poll_interval=max_poll_interval,
        sleep=sleep,
        clock=clock,
    )
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
    seen: list[OperationStatus] = []
    last: list[tuple[bool, int]] = []

    def step() -> bool:
        operation = reader.get_operation(name)
        seen.append(operation)
        key = (operation.done, operation.completed_steps)
        if on_progress is not None and (not last or last[-1] != key):
            last.append(key)
            on_progress(_operation_progress(operation))
        return operation.done

    poll_until(
        step,
        timeout=timeout,
        poll_interval=poll_interval,
        max_poll_interval=max_poll_interval,
        sleep=sleep,
        clock=clock,
    )
    return seen[-1]


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
