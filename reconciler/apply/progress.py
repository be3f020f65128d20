"""How an apply shows what it does: live bars on a terminal, plain lines in CI logs.

A ``Reporter`` receives events from the executor (from several threads) and
owns all terminal output of a run, so the executor stays free of printing.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Protocol, TextIO

from reconciler.api import ProgressUpdate

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from reconciler.apply.outcomes import ActionResult
    from reconciler.plan import Action

# In CI logs, a tuning model gets a progress line at most this often (plus one
# on every state change), so a two-hour tuning does not flood the log.
PLAIN_PROGRESS_EVERY_SECONDS = 30.0


class Reporter(Protocol):
    def started(self, action: Action) -> None: ...
    def finished(self, result: ActionResult) -> None: ...
    def tuning(self, model: str, total_steps: int | None, live_name: str | None = None) -> None:
        """``model`` (a manifest name) starts tuning as ``live_name`` (default ``tunedModels/<model>``)."""
        ...

    def progress(self, update: ProgressUpdate) -> None: ...
    def close(self) -> None: ...


def _short(name: str) -> str:
    return name.removeprefix("tunedModels/")


def describe_progress(update: ProgressUpdate) -> str:
    parts = [update.state.lower()]
    if update.percent is not None and update.total_steps:
        parts.append(f"{update.percent:.0f}% ({update.completed_steps}/{update.total_steps} steps)")
    elif update.completed_steps:
        parts.append(f"step {update.completed_steps}")
    if update.latest_snapshot is not None and update.latest_snapshot.mean_loss is not None:
        parts.append(f"loss {update.latest_snapshot.mean_loss:.4g}")
    return ", ".join(parts)


class PlainReporter:
    """One line per event, no colour, no animation: for CI logs and pipes."""

    def __init__(self, *, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._mutex = threading.Lock()
        self._last: dict[str, tuple[str, float]] = {}
        self._names: dict[str, str] = {}  # live name -> manifest name, for progress lines

    def _line(self, text: str) -> None:
        with self._mutex:
            print(text, file=self._stream, flush=True)

    def started(self, action: Action) -> None:
        if action.kind.value not in ("noop", "wait"):
            self._line(f"{action.address}: {action.kind.value} started")

    def finished(self, result: ActionResult) -> None:
        if result.outcome.value == "unchanged":
            return
        detail = f" ({result.detail})" if result.detail else ""
        self._line(
            f"{result.action.address}: {result.action.kind.value} {result.outcome.value}{detail}"
        )

    def tuning(self, model: str, total_steps: int | None, live_name: str | None = None) -> None:
        self._names[live_name or f"tunedModels/{model}"] = model
        steps = f" ({total_steps} steps)" if total_steps else ""
        self._line(f"TunedModel/{model}: tuning{steps}")

    def progress(self, update: ProgressUpdate) -> None:
        now = time.monotonic()
        last = self._last.get(update.model)
        if (
            last is not None
            and last[0] == update.state
            and now - last[1] < PLAIN_PROGRESS_EVERY_SECONDS
        ):
            return
        self._last[update.model] = (update.state, now)
        model = self._names.get(update.model, _short(update.model))
        self._line(f"TunedModel/{model}: {describe_progress(update)}")

    def close(self) -> None:
        return None


class LiveReporter(PlainReporter):
    """A rich progress bar per tuning model (percent, steps, latest loss) on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__()
        self._console = Console()
        self._bars: Progress = Progress(
            TextColumn("[bold]{task.fields[model]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._bars.start()

    def _line(self, text: str) -> None:
        with self._mutex:
            self._bars.console.print(text, highlight=False)

    def tuning(self, model: str, total_steps: int | None, live_name: str | None = None) -> None:
        with self._mutex:
            self._names[live_name or f"tunedModels/{model}"] = model
            self._tasks[live_name or f"tunedModels/{model}"] = self._bars.add_task(
                "tuning", total=total_steps or 100, model=model, detail="creating"
            )

    def progress(self, update: ProgressUpdate) -> None:
        with self._mutex:
            task = self._tasks.get(update.model)
            if task is None:
                return
            total = update.total_steps or 100
            done = update.completed_steps if update.total_steps else (update.percent or 0)
            self._bars.update(task, total=total, completed=done, detail=describe_progress(update))

    def close(self) -> None:
        self._bars.stop()


def make_reporter(*, interactive: bool) -> Reporter:
    return LiveReporter() if interactive else PlainReporter()
