"""TunedModel and Operation JSON, exactly the proto fields and nothing else.

google-generativeai parses Operations strictly (an unknown key, a bad ``@type``,
or both ``error`` and ``response`` crash it), so these builders are the only
place response objects are written, and they omit proto3 defaults.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.partial_response import FieldMask
from reconciler.emulator.tuning import CREATING, Progress, TunedModelRecord, progress, snapshots
from reconciler.emulator.wire import dumps, enum, rfc3339

TUNED_MODEL_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.TunedModel"
# Serialized forms kept per finished model: both enum encodings, whole and with
# the one or two selectors a client uses.
MAX_CACHED_FORMS = 6
METADATA_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.CreateTunedModelMetadata"


def tuned_model(
    record: TunedModelRecord, prog: Progress, *, int_enums: bool, with_snapshots: bool = True
) -> dict[str, Any]:
    """The TunedModel; ``with_snapshots=False`` skips the snapshots a partial response drops."""
    body: dict[str, Any] = {"name": record.name}
    if record.source_model is not None:
        # source and baseModel are a proto oneof: a model tuned from a tuned model
        # reports its base inside tunedModelSource (output only), never at top level.
        body["tunedModelSource"] = {
            "tunedModel": record.source_model,
            "baseModel": record.base_model,
        }
    else:
        body["baseModel"] = record.base_model
    if record.display_name:
        body["displayName"] = record.display_name
    if record.description:
        body["description"] = record.description
    if record.temperature is not None:
        body["temperature"] = record.temperature
    if record.top_p is not None:
        body["topP"] = record.top_p
    if record.top_k:
        body["topK"] = record.top_k
    body["state"] = enum(prog.state, int_enums=int_enums)
    body["createTime"] = rfc3339(record.create_time)
    updated = (
        record.update_time if prog.end_time is None else max(record.update_time, prog.end_time)
    )
    body["updateTime"] = rfc3339(updated)
    task: dict[str, Any] = {"startTime": rfc3339(record.create_time)}
    if prog.end_time is not None:
        task["completeTime"] = rfc3339(prog.end_time)
    if prog.completed_steps and with_snapshots:
        task["snapshots"] = snapshots(record, prog.completed_steps)
    task["hyperparameters"] = record.hyperparameters
    body["tuningTask"] = task
    if record.reader_project_numbers:
        body["readerProjectNumbers"] = record.reader_project_numbers
    return body


def tuned_model_text(
    record: TunedModelRecord, now: float, *, int_enums: bool, mask: FieldMask | None = None
) -> str:
    """Serialized TunedModel, cut down to ``mask`` if given.

    Finished models are cached, which keeps 1000-model pages fast, with or
    without a partial-response mask; snapshots are not even computed when the
    mask drops them.
    """
    key = (int_enums, "" if mask is None else mask.key)
    cached = record.cache.get(key)
    if cached is not None:
        return cached
    prog = progress(record, now)
    if mask is None or mask.tree is None:
        body = tuned_model(record, prog, int_enums=int_enums)
    else:
        snapshots = mask.reaches("tuningTask", "snapshots")
        body = mask.select(tuned_model(record, prog, int_enums=int_enums, with_snapshots=snapshots))
    text = dumps(body)
    if prog.state != CREATING:
        if len(record.cache) >= MAX_CACHED_FORMS:
            record.cache.clear()  # a client trying many selectors: keep memory bounded
        record.cache[key] = text
    return text


def operation(record: TunedModelRecord, now: float, *, int_enums: bool) -> dict[str, Any]:
    prog = progress(record, now)
    total = record.total_steps
    metadata: dict[str, Any] = {"@type": METADATA_TYPE, "totalSteps": total}
    if prog.completed_steps:
        metadata["completedSteps"] = prog.completed_steps
        metadata["completedPercent"] = round(100.0 * prog.completed_steps / total, 6)
        metadata["snapshots"] = snapshots(record, prog.completed_steps)
    metadata["tunedModel"] = record.name
    body: dict[str, Any] = {"name": record.operation_name, "metadata": metadata}
    if prog.state == CREATING:
        return body
    body["done"] = True
    if prog.error is not None:
        code, message = prog.error
        body["error"] = {"code": code, "message": message}
    else:
        response = {"@type": TUNED_MODEL_TYPE, **tuned_model(record, prog, int_enums=int_enums)}
        body["response"] = response
    return body
