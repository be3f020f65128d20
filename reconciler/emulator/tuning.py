"""Tuned-model records and simulated tuning progress.

Progress is a pure function of a record and a time: nothing runs in the
background, so a test with a fake clock sees a two-hour tuning finish at once,
and a restarted emulator (``--db``) picks up where the clock says it is.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler.emulator.wire import rfc3339

CREATING, ACTIVE, FAILED = "CREATING", "ACTIVE", "FAILED"

CANCELLED_CODE = 1  # google.rpc.Code.CANCELLED, as google.longrunning ends a cancelled operation
TUNING_FAILED_CODE = 13  # google.rpc.Code.INTERNAL
TUNING_FAILED_MESSAGE = "Tuning failed: the training job stopped with an internal error."
CANCELLED_MESSAGE = "Operation cancelled."


@dataclass
class TunedModelRecord:
    """Everything the emulator keeps about one tuned model (examples stay server-side)."""

    model_id: str
    seq: int
    operation_id: str
    base_model: str
    source_model: str | None
    display_name: str
    description: str
    temperature: float | None
    top_p: float | None
    top_k: int | None
    reader_project_numbers: list[str]
    hyperparameters: dict[str, Any]
    examples: list[tuple[str, str]]
    create_time: float
    update_time: float
    step_seconds: float
    fail_at_step: int | None = None
    cancel_time: float | None = None
    # Who may use the model: {"id", "granteeType", "emailAddress"?, "role"} with enum names.
    permissions: list[dict[str, str]] = field(default_factory=list)
    # Serialized JSON of a finished model by (int enums, partial-response key,
    # "" for the whole model); never persisted.
    cache: dict[tuple[bool, str], str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"tunedModels/{self.model_id}"

    @property
    def operation_name(self) -> str:
        return f"{self.name}/operations/{self.operation_id}"

    @property
    def total_steps(self) -> int:
        return total_steps(
            examples=len(self.examples),
            epochs=int(self.hyperparameters["epochCount"]),
            batch=int(self.hyperparameters["batchSize"]),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("cache")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TunedModelRecord:
        data = dict(data)
        data["examples"] = [tuple(e) for e in data["examples"]]
        return cls(**data)


def total_steps(*, examples: int, epochs: int, batch: int) -> int:
    """ceil(examples x epochs / batch): 15 examples x 5 epochs / batch 2 -> 38, as observed."""
    return max(1, math.ceil(examples * epochs / batch))


@dataclass(frozen=True)
class Progress:
    state: str
    completed_steps: int
    end_time: float | None
    error: tuple[int, str] | None


def steps_done(record: TunedModelRecord, at: float) -> int:
    total = record.total_steps
    if record.step_seconds <= 0:
        return total
    return max(0, min(total, int((at - record.create_time) / record.step_seconds)))


def progress(record: TunedModelRecord, now: float) -> Progress:
    """Where tuning stands at ``now``. Pure: same record and time, same answer."""
    total = record.total_steps
    limit = total if record.fail_at_step is None else record.fail_at_step
    if record.cancel_time is not None:
        cancelled_at = steps_done(record, record.cancel_time)
        if cancelled_at < limit:
            return Progress(
                FAILED, cancelled_at, record.cancel_time, (CANCELLED_CODE, CANCELLED_MESSAGE)
            )
    done = steps_done(record, now)
    if done < limit:
        return Progress(CREATING, done, None, None)
    end = record.create_time + limit * record.step_seconds
    if record.fail_at_step is not None:
        return Progress(FAILED, limit, end, (TUNING_FAILED_CODE, TUNING_FAILED_MESSAGE))
    return Progress(ACTIVE, total, end, None)


def mean_loss(model_id: str, step: int, total: int) -> float:
    """A falling loss curve with a little deterministic noise, like real tuning output.

    The noise is scaled to the fall of one step, so the curve never rises, even
    over thousands of steps (the operation's snapshots promise a falling loss).
    """
    noise = (zlib.crc32(f"{model_id}:{step}".encode()) % 1000) / 1000.0 - 0.5
    amplitude = 0.8 * (1.0 - math.exp(-4.0 / max(total, 1)))
    loss = 0.15 + 6.0 * math.exp(-4.0 * step / total) * (1.0 + amplitude * noise)
    return round(loss, 6)


def snapshots(record: TunedModelRecord, completed: int) -> list[dict[str, Any]]:
    """One snapshot per completed step (only step, epoch, meanLoss and computeTime are proto fields)."""
    total = record.total_steps
    n = max(1, len(record.examples))
    batch = int(record.hyperparameters["batchSize"])
    epochs = int(record.hyperparameters["epochCount"])
    return [
        {
            "step": step,
            "epoch": min(epochs, (step - 1) * batch // n + 1),
            "meanLoss": mean_loss(record.model_id, step, total),
            "computeTime": rfc3339(record.create_time + step * record.step_seconds),
        }
        for step in range(1, completed + 1)
    ]
