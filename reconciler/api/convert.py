"""JSON <-> values: the one place that knows the v1beta field names.

Reading is tolerant: unknown fields are ignored, enums may come as names or as
ints (``$alt=json;enum-encoding=int``), numbers may come as strings (int64 in
proto3 JSON). Nothing returned here holds a raw dict from the wire except
``LiveModel.hyperparameters`` (a fresh dict of numbers).

Writing follows section 3 and 7 of gemini-api-wire-facts.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.live import LiveModel, OperationStatus, Snapshot
from reconciler.spec import GEMINI_MUTABLE_FIELDS as MUTABLE_FIELDS
from reconciler.spec import AppliedSpec, Example

_STATES = {0: "STATE_UNSPECIFIED", 1: "CREATING", 2: "ACTIVE", 3: "FAILED"}
_FINISH_REASONS = {
    0: "FINISH_REASON_UNSPECIFIED",
    1: "STOP",
    2: "MAX_TOKENS",
    3: "SAFETY",
    4: "RECITATION",
    5: "OTHER",
}
_HYPERPARAMETER_KEYS = ("epochCount", "batchSize", "learningRate", "learningRateMultiplier")
_INT_HYPERPARAMETERS = frozenset(("epochCount", "batchSize"))

# Every TunedModel field ``live_model_from_json`` reads (None: the whole value),
# named as in the v1beta TunedModel schema. Partial responses are built from it
# (``tuned_model_fields``), so a field the converter starts reading must be added
# here; tests/api/test_partial_response.py fails until it is.
TUNED_MODEL_FIELDS: Mapping[str, Mapping[str, None] | None] = {
    "name": None,
    "state": None,
    "baseModel": None,
    "tunedModelSource": {"tunedModel": None, "baseModel": None},
    "displayName": None,
    "description": None,
    "temperature": None,
    "topP": None,
    "topK": None,
    "readerProjectNumbers": None,
    "createTime": None,
    "updateTime": None,
    "tuningTask": {
        "startTime": None,
        "completeTime": None,
        "hyperparameters": None,
        "snapshots": None,
    },
}


@dataclass(frozen=True)
class BaseModelInfo:
    """A base model (``models/...``) and what it supports."""

    name: str
    display_name: str | None = None
    description: str | None = None
    supported_generation_methods: tuple[str, ...] = ()
    input_token_limit: int | None = None
    output_token_limit: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None

    @property
    def tunable(self) -> bool:
        return "createTunedModel" in self.supported_generation_methods


@dataclass(frozen=True)
class GenerateResult:
    """The answer of generateContent: one text and finish reason per candidate, plus usage."""

    texts: tuple[str, ...] = ()
    finish_reasons: tuple[str, ...] = ()
    prompt_tokens: int | None = None
    candidates_tokens: int | None = None
    total_tokens: int | None = None

    @property
    def text(self) -> str:
        """The first candidate's text ("" when there is none)."""
        return self.texts[0] if self.texts else ""


# --------------------------------------------------------------------------- reading


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _enum(value: object, names: Mapping[int, str], default: str) -> str:
    if isinstance(value, str) and value:
        return value
    number = _int(value)
    if number is not None:
        return names.get(number, default)
    return default


def snapshot_from_json(data: Mapping[str, Any]) -> Snapshot:
    step, epoch = data.get("step"), data.get("epoch")
    loss, when = data.get("meanLoss"), data.get("computeTime")
    if (
        type(step) is int
        and type(epoch) is int
        and type(loss) in (float, int)
        and (when is None or type(when) is str)
    ):
        # The common, well-typed case, without the per-field coercions below:
        # a refresh of 10,000 models reads about 100,000 snapshots.
        return Snapshot(step=step, epoch=epoch, mean_loss=float(loss), compute_time=when)  # type: ignore[arg-type]
    return Snapshot(
        step=_int(data.get("step")) or 0,
        epoch=_int(data.get("epoch")) or 0,
        mean_loss=_float(data.get("meanLoss", data.get("mean_loss"))),
        compute_time=_str(data.get("computeTime", data.get("compute_time"))),
    )


def _snapshots(value: object) -> tuple[Snapshot, ...]:
    return tuple(snapshot_from_json(s) for s in _list(value) if isinstance(s, dict))


def live_model_from_json(data: Mapping[str, Any], *, snapshots: bool = True) -> LiveModel:
    """A TunedModel resource as a LiveModel.

    A plan converts every listed model (10,000 in one large plan), so the
    common, well-typed fields take inline checks instead of a helper call
    each; what they accept and return is exactly ``_str``/``_float``/``_int``'s.
    """
    get = data.get
    source = _dict(get("tunedModelSource"))
    task = _dict(get("tuningTask"))
    hyper = _dict(task.get("hyperparameters"))
    hyperparameters: dict[str, float | int] = {}
    for key in _HYPERPARAMETER_KEYS:
        value = hyper.get(key)
        if value is None:
            continue
        number = _int(value) if key in _INT_HYPERPARAMETERS else _float(value)
        if number is not None:
            hyperparameters[key] = number
    readers = get("readerProjectNumbers")
    name = get("name")
    state = get("state")
    base_model = get("baseModel")
    if not (isinstance(base_model, str) and base_model):
        base_model = _str(source.get("baseModel"))
    temperature, top_p, top_k = get("temperature"), get("topP"), get("topK")
    return LiveModel(
        name=name if isinstance(name, str) else "",
        state=state
        if isinstance(state, str) and state
        else _enum(state, _STATES, "STATE_UNSPECIFIED"),
        base_model=base_model,
        tuned_model_source=_str(source.get("tunedModel")),
        display_name=_str(get("displayName")),
        description=_str(get("description")),
        temperature=None if temperature is None else _float(temperature),
        top_p=None if top_p is None else _float(top_p),
        top_k=None if top_k is None else _int(top_k),
        reader_project_numbers=tuple(str(r) for r in readers) if isinstance(readers, list) else (),
        create_time=_str(get("createTime")),
        update_time=_str(get("updateTime")),
        hyperparameters=hyperparameters,
        start_time=_str(task.get("startTime")),
        complete_time=_str(task.get("completeTime")),
        snapshots=_snapshots(task.get("snapshots")) if snapshots else (),
    )


def tuned_model_fields(*, snapshots: bool = True) -> str:
    """A partial-response selector for what ``live_model_from_json`` reads.

    ``snapshots=False`` leaves out ``tuningTask.snapshots``: one per tuning step,
    most of a listed model's bytes, and never read by planning.
    """
    parts: list[str] = []
    for name, sub in TUNED_MODEL_FIELDS.items():
        if sub is None:
            parts.append(name)
            continue
        inner = [key for key in sub if snapshots or (name, key) != ("tuningTask", "snapshots")]
        parts.append(f"{name}({','.join(inner)})")
    return ",".join(parts)


def operation_from_json(data: Mapping[str, Any]) -> OperationStatus:
    """A google.longrunning.Operation of a tuning as an OperationStatus."""
    name = _str(data.get("name")) or ""
    metadata = _dict(data.get("metadata"))
    model = _str(metadata.get("tunedModel")) or name.partition("/operations/")[0]
    error = _dict(data.get("error"))
    response = _dict(data.get("response"))
    done = bool(data.get("done"))
    total = _int(metadata.get("totalSteps")) or 0
    snapshots = _snapshots(metadata.get("snapshots"))
    completed = _int(metadata.get("completedSteps"))
    if completed is None:
        completed = snapshots[-1].step if snapshots else 0
    percent = _float(metadata.get("completedPercent"))
    if percent is None:
        percent = 100.0 * completed / total if total else 0.0
    result = None
    if done and not error and response:
        result = live_model_from_json(response)
    return OperationStatus(
        name=name,
        model=model,
        done=done,
        total_steps=total,
        completed_steps=completed,
        completed_percent=percent,
        snapshots=snapshots,
        error_code=_int(error.get("code")) if error else None,
        error_message=(_str(error.get("message")) or "tuning failed") if error else None,
        result=result,
    )


def base_model_from_json(data: Mapping[str, Any]) -> BaseModelInfo:
    methods = tuple(str(m) for m in _list(data.get("supportedGenerationMethods")))
    return BaseModelInfo(
        name=_str(data.get("name")) or "",
        display_name=_str(data.get("displayName")),
        description=_str(data.get("description")),
        supported_generation_methods=methods,
        input_token_limit=_int(data.get("inputTokenLimit")),
        output_token_limit=_int(data.get("outputTokenLimit")),
        temperature=_float(data.get("temperature")),
        top_p=_float(data.get("topP")),
        top_k=_int(data.get("topK")),
    )


def generate_result_from_json(data: Mapping[str, Any]) -> GenerateResult:
    texts: list[str] = []
    reasons: list[str] = []
    for candidate in _list(data.get("candidates")):
        if not isinstance(candidate, dict):
            continue
        parts = _list(_dict(candidate.get("content")).get("parts"))
        texts.append("".join(str(p.get("text", "")) for p in parts if isinstance(p, dict)))
        reasons.append(
            _enum(candidate.get("finishReason"), _FINISH_REASONS, "FINISH_REASON_UNSPECIFIED")
        )
    usage = _dict(data.get("usageMetadata"))
    return GenerateResult(
        texts=tuple(texts),
        finish_reasons=tuple(reasons),
        prompt_tokens=_int(usage.get("promptTokenCount")),
        candidates_tokens=_int(usage.get("candidatesTokenCount")),
        total_tokens=_int(usage.get("totalTokenCount")),
    )


# --------------------------------------------------------------------------- writing


def generate_body(*, prompt: str, generation_config: Mapping[str, Any]) -> dict[str, Any]:
    """A generateContent request: one user turn, and ``generationConfig`` when there is one."""
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    if generation_config:
        body["generationConfig"] = dict(generation_config)
    return body


def create_body(*, spec: AppliedSpec, examples: Sequence[Example]) -> dict[str, Any]:
    """The TunedModel body of a create: only fields that are set, training data inline.

    A spec with ``tunedModelSource`` sends ``tunedModelSource: {tunedModel,
    baseModel?}`` instead of a top-level ``baseModel``.
    """
    body: dict[str, Any] = {}
    if spec.tunedModelSource:
        source: dict[str, str] = {"tunedModel": spec.tunedModelSource}
        if spec.baseModel:
            source["baseModel"] = spec.baseModel
        body["tunedModelSource"] = source
    elif spec.baseModel:
        body["baseModel"] = spec.baseModel
    for key in MUTABLE_FIELDS:
        value = _spec_value(spec, key)
        if value is not None and value != []:
            body[key] = value
    task: dict[str, Any] = {
        "trainingData": {
            "examples": {
                "examples": [{"textInput": e.text_input, "output": e.output} for e in examples]
            }
        }
    }
    hyper = spec.hyperparameters.model_dump(exclude_none=True)
    if hyper:
        task["hyperparameters"] = hyper
    body["tuningTask"] = task
    return body


def patch_body(*, spec: AppliedSpec, update_mask: Sequence[str]) -> dict[str, Any]:
    """The body of a PATCH: exactly the masked fields that have a value.

    A masked field whose desired value is None (or an empty
    ``readerProjectNumbers``) is left out: with the field named in
    ``updateMask`` and absent from the body, proto3 field-mask semantics clear
    it on the server.
    """
    unknown = [key for key in update_mask if key not in MUTABLE_FIELDS]
    if unknown:
        raise ValueError(
            f"cannot update {', '.join(unknown)}: only {', '.join(MUTABLE_FIELDS)} are mutable"
        )
    body: dict[str, Any] = {}
    for key in update_mask:
        value = _spec_value(spec, key)
        if value is not None and value != []:
            body[key] = value
    return body


def _spec_value(spec: AppliedSpec, key: str) -> Any:
    value = getattr(spec, key)
    if key == "readerProjectNumbers":
        return [str(v) for v in value]
    return value
