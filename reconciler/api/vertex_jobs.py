"""TuningJob answers read into small values; live data is untrusted, so it is bounded.

Parsed leniently: the service is ahead of its published protos, so unknown
fields are ignored, and missing optional ones are None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ApiError

TERMINAL_STATES = frozenset(
    {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)
MAX_TEXT = 4096
MAX_LABELS = 64


@dataclass(frozen=True)
class VertexJob:
    name: str
    state: str
    base_model: str
    create_time: str
    display_name: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    error_code: int | None = None
    error_message: str = ""
    model: str | None = None  # projects/N/locations/L/models/M@1, once succeeded
    endpoint: str | None = None
    example_count: int | None = None
    step_count: int | None = None
    update_time: str = ""
    start_time: str = ""  # first entry into RUNNING
    end_time: str = ""  # entry into SUCCEEDED, FAILED, CANCELLED or EXPIRED
    # supervisedTuningSpec.hyperParameters as sent: epochCount, learningRateMultiplier,
    # adapterSize (a number: ADAPTER_SIZE_FOUR -> 4)
    hyperparameters: dict[str, float | int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def key(self) -> str | None:
        """The idempotency key it was created with, if reconciler created it."""
        return self.labels.get("reconciler-key")


def _text(value: Any) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    try:
        return int(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    except ValueError:
        return None


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def parse_job(data: dict[str, Any]) -> VertexJob:
    name = _text(data.get("name"))
    if not name:
        raise ApiError("a TuningJob answer has no name")
    raw_labels = _object(data, "labels")
    labels = {
        _text(k): _text(v) for k, v in list(raw_labels.items())[:MAX_LABELS] if isinstance(v, str)
    }
    error = _object(data, "error")
    tuned = _object(data, "tunedModel")
    supervised = _object(_object(data, "tuningDataStats"), "supervisedTuningDataStats")
    return VertexJob(
        name=name,
        state=_text(data.get("state")) or "JOB_STATE_UNSPECIFIED",
        base_model=_text(data.get("baseModel")),
        create_time=_text(data.get("createTime")),
        display_name=_text(data.get("tunedModelDisplayName")),
        description=_text(data.get("description")),
        labels=labels,
        error_code=_int(error.get("code")),
        error_message=_text(error.get("message")),
        model=_text(tuned.get("model")) or None,
        endpoint=_text(tuned.get("endpoint")) or None,
        example_count=_int(supervised.get("tuningDatasetExampleCount")),
        step_count=_int(supervised.get("tuningStepCount")),
        update_time=_text(data.get("updateTime")),
        start_time=_text(data.get("startTime")),
        end_time=_text(data.get("endTime")),
        hyperparameters=_hyperparameters(
            _object(_object(data, "supervisedTuningSpec"), "hyperParameters")
        ),
    )


ADAPTER_SIZE_NUMBERS = {
    "ADAPTER_SIZE_ONE": 1,
    "ADAPTER_SIZE_TWO": 2,
    "ADAPTER_SIZE_FOUR": 4,
    "ADAPTER_SIZE_EIGHT": 8,
    "ADAPTER_SIZE_SIXTEEN": 16,
    "ADAPTER_SIZE_THIRTY_TWO": 32,
}


def _hyperparameters(data: dict[str, Any]) -> dict[str, float | int]:
    """The job's hyperparameters as numbers, camelCase keys; what is absent or odd left out."""
    found: dict[str, float | int] = {}
    epochs = _int(data.get("epochCount"))
    if epochs is not None:
        found["epochCount"] = epochs
    multiplier = data.get("learningRateMultiplier")
    if isinstance(multiplier, int | float) and not isinstance(multiplier, bool):
        found["learningRateMultiplier"] = float(multiplier)
    adapter = ADAPTER_SIZE_NUMBERS.get(_text(data.get("adapterSize")))
    if adapter is not None:
        found["adapterSize"] = adapter
    return found
