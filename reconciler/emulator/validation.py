"""Request checks the real service makes, with its messages where they are known."""

from __future__ import annotations

import math
import re
from typing import Any

from reconciler.emulator.wire import ApiError, camel, invalid

TUNED_MODEL_ID = re.compile(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?")
MAX_DISPLAY_NAME = 40
MAX_OUTPUT_CHARS = 5000  # per example, as AI Studio enforces
MAX_INPUT_CHARS = 40000

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FLOAT32_MAX = 3.4028234663852886e38
# The emulator keeps every tuning snapshot it reports; a tuning of more steps
# than this (real ones run hundreds) would cost minutes of CPU and gigabytes.
MAX_TUNING_STEPS = 10_000

DEFAULT_EPOCHS = 5
DEFAULT_BATCH = 4
DEFAULT_LEARNING_RATE = 0.001


def check_id(model_id: str) -> None:
    if not TUNED_MODEL_ID.fullmatch(model_id):
        raise invalid(
            f"Invalid tuned_model_id {model_id!r}: it must match "
            "[a-z]([a-z0-9-]{0,38}[a-z0-9])? (at most 40 characters)."
        )


def check_display_name(value: Any) -> str:
    text = string(value, "display_name")
    if len(text) > MAX_DISPLAY_NAME:
        raise invalid("The display name must be up to 40 characters including spaces.")
    return text


def string(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{field}' (TYPE_STRING), {value!r}")
    return value


def number(value: Any, field: str, *, low: float, high: float | None = None) -> float | None:
    """A proto float: a JSON number or numeric string, finite and within float32's range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(f"Invalid value at '{field}' (TYPE_FLOAT), {value!r}")
    try:
        result = float(value)
        if not math.isfinite(result) or abs(result) > FLOAT32_MAX:
            raise ValueError
    except (ValueError, OverflowError):
        raise invalid(f"Invalid value at '{field}' (TYPE_FLOAT), {_shown(value)}") from None
    if result < low or (high is not None and result > high):
        bound = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise invalid(f"{field} must be in {bound}, got {result:g}.")
    return result


def integer(value: Any, field: str, *, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid(f"Invalid value at '{field}' (TYPE_INT32), {value!r}")
    try:
        result = int(value)
        if isinstance(value, float) and result != value:
            raise ValueError
        if not INT32_MIN <= result <= INT32_MAX:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise invalid(f"Invalid value at '{field}' (TYPE_INT32), {_shown(value)}") from None
    if result < low:
        raise invalid(f"{field} must be >= {low}, got {result}.")
    return result


def sampling(body: dict[str, Any]) -> tuple[float | None, float | None, int | None]:
    """temperature in [0, 1] (the TunedModel field documents [0.0, 1.0]), topP in [0, 1], topK >= 0."""
    return (
        number(body.get("temperature"), "temperature", low=0.0, high=1.0),
        number(body.get("topP"), "top_p", low=0.0, high=1.0),
        integer(body.get("topK"), "top_k", low=0),
    )


def reader_projects(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid("reader_project_numbers must be a list of project numbers.")
    return [str(integer(v, "reader_project_numbers", low=0)) for v in value]


def hyperparameters(value: Any) -> dict[str, Any]:
    """Fill the documented defaults; echo only the learning-rate form the caller used."""
    hp = value if isinstance(value, dict) else {}
    epochs = integer(hp.get("epochCount"), "hyperparameters.epoch_count", low=1)
    batch = integer(hp.get("batchSize"), "hyperparameters.batch_size", low=1)
    rate = number(hp.get("learningRate"), "hyperparameters.learning_rate", low=0.0)
    multiplier = number(
        hp.get("learningRateMultiplier"), "hyperparameters.learning_rate_multiplier", low=0.0
    )
    if rate is not None and multiplier is not None:
        raise invalid("Only one of learning_rate and learning_rate_multiplier may be set.")
    if rate == 0.0 or multiplier == 0.0:
        raise invalid("The learning rate must be greater than 0.")
    result: dict[str, Any] = {
        "epochCount": epochs or DEFAULT_EPOCHS,
        "batchSize": batch or DEFAULT_BATCH,
    }
    if multiplier is not None:
        result["learningRateMultiplier"] = multiplier
    else:
        result["learningRate"] = rate if rate is not None else DEFAULT_LEARNING_RATE
    return result


def examples(task: Any) -> list[tuple[str, str]]:
    """tuningTask.trainingData.examples.examples: required, text pairs only, size-limited."""
    if not isinstance(task, dict):
        raise invalid("tuning_task is required.")
    data = task.get("trainingData")
    items = data.get("examples", {}).get("examples") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("examples"), dict):
        raise invalid("tuning_task.training_data is required.")
    if not isinstance(items, list) or not items:
        raise invalid("tuning_task.training_data.examples must not be empty.")
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        where = f"tuning_task.training_data.examples.examples[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("textInput"), str):
            raise invalid(f"{where}: every example must have a text_input (text examples only).")
        output = item.get("output")
        if not isinstance(output, str) or not output:
            raise invalid(f"{where}.output is required.")
        if len(output) > MAX_OUTPUT_CHARS:
            raise invalid(f"{where}.output is longer than {MAX_OUTPUT_CHARS} characters.")
        if len(item["textInput"]) > MAX_INPUT_CHARS:
            raise invalid(f"{where}.text_input is longer than {MAX_INPUT_CHARS} characters.")
        pairs.append((item["textInput"], output))
    return pairs


def check_steps(steps: int) -> None:
    if steps > MAX_TUNING_STEPS:
        raise invalid(
            f"The tuning would run {steps} steps (examples x epoch_count / batch_size); "
            f"the emulator runs at most {MAX_TUNING_STEPS}."
        )


def _shown(value: Any) -> str:
    """A refused value as the message shows it: short, whatever was sent."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:40] + "..."


def base_model_not_found(name: str) -> ApiError:
    return ApiError(404, f"{name} is not found for CREATE TUNED MODEL at API version v1beta.")


def camel_path(path: str) -> str:
    """An update-mask path in camelCase, whichever spelling was sent."""
    return ".".join(camel(part) for part in path.strip().split("."))
