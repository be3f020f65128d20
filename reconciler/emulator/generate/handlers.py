"""The routes: generate and stream, countTokens, and the base-model catalog (get, paged list).

Each handler finds who answers (a base model of the catalog, or a tuned model
that is ACTIVE), reads the request against that model's limits, and writes
the answer: one JSON object, a JSON array of chunks, or server-sent events
with ``?alt=sse``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.responses import Response

from reconciler.emulator import catalog
from reconciler.emulator.call import Call
from reconciler.emulator.generate import answer, request, tokens, values
from reconciler.emulator.generate.proto_json import Reader
from reconciler.emulator.tuning import ACTIVE, TunedModelRecord, progress
from reconciler.emulator.wire import ApiError, dumps, enum, invalid, json_response

# Response fields whose values are enum names (numbered with enum-encoding=int).
ENUM_FIELDS = ("finishReason", "category", "probability", "modality", "language", "outcome")
MODELS_PAGE_DEFAULT = 50


def _not_found(call: Call, method: str) -> ApiError:
    name = f"models/{call.params['model']}"
    return ApiError(
        404,
        f"{name} is not found for API version {call.api_version}, or is not supported for "
        f"{method}. Call ListModels to see the list of available models and their "
        "supported methods.",
    )


def _base(call: Call, method: str) -> tuple[dict[str, Any], answer.Responder]:
    name = f"models/{call.params['model']}"
    model = catalog.BASE_MODELS.get(name)
    if model is None or method not in model["supportedGenerationMethods"]:
        raise _not_found(call, method)
    return model, answer.Responder(name=name, model_version=catalog.SERVED_VERSION[name])


def _tuned(call: Call) -> tuple[TunedModelRecord, dict[str, Any]]:
    record = call.tuned_model()
    state = progress(record, call.now).state
    if state != ACTIVE:
        raise ApiError(
            400,
            f"Tuned model {record.name} is not ready for use (state {state}).",
            status="FAILED_PRECONDITION",
        )
    return record, catalog.BASE_MODELS[record.base_model]


def _limits(model: dict[str, Any]) -> request.ModelLimits:
    return request.ModelLimits(
        max_temperature=float(model["maxTemperature"]),
        output_token_limit=int(model["outputTokenLimit"]),
        thinking=bool(model.get("thinking")),
    )


def _read(call: Call, model: dict[str, Any]) -> request.GenerateRequest:
    read = request.read(call.body, _limits(model))
    _check_input_size(read, model)
    return read


def _check_input_size(read: request.GenerateRequest, model: dict[str, Any]) -> None:
    count = tokens.prompt_tokens(
        read.contents, system_instruction=read.system_instruction, tools=read.tools
    )
    if count > model["inputTokenLimit"]:
        raise invalid(
            f"The input token count ({count}) exceeds the maximum number of tokens allowed "
            f"({model['inputTokenLimit']})."
        )


def ranked_outputs(record: TunedModelRecord, prompt: str) -> list[str]:
    """The tuned model's training outputs, closest example first (exact input, then word overlap)."""
    words = set(prompt.lower().split())

    def closeness(item: tuple[int, tuple[str, str]]) -> tuple[int, float, int]:
        index, (text_input, _) = item
        other = set(text_input.lower().split())
        union = words | other
        return (
            text_input.strip() != prompt.strip(),
            -(len(words & other) / len(union) if union else 0.0),
            index,
        )

    return [output for _, (_, output) in sorted(enumerate(record.examples), key=closeness)]


def base_generate(call: Call) -> Response:
    model, responder = _base(call, "generateContent")
    return _respond(call, _read(call, model), responder)


def tuned_generate(call: Call) -> Response:
    record, model = _tuned(call)
    read = _read(call, model)
    responder = answer.Responder(
        name=record.name,
        model_version=model["baseModelId"],
        ranked_outputs=ranked_outputs(record, answer.prompt_text(read)),
    )
    return _respond(call, read, responder)


def _respond(call: Call, read: request.GenerateRequest, responder: answer.Responder) -> Response:
    try:
        body = answer.respond(read, responder)
    except values.SchemaError as error:
        # The service refuses such schemas too, if with its own words.
        raise invalid(
            f"* GenerateContentRequest: a schema in the request cannot be used: {error}\n"
        ) from None
    if not call.params.get("stream"):
        return json_response(_numbered(body, call.int_enums))
    chunks = [_numbered(chunk, call.int_enums) for chunk in _chunks(body)]
    if call.query.get("alt") == "sse":
        text = "".join(f"data: {dumps(chunk)}\r\n\r\n" for chunk in chunks)
        return Response(text.encode(), media_type="text/event-stream")
    return json_response(chunks)


def _chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer in two chunks: each candidate's first text cut in half; the last chunk
    carries the rest, the finish reasons and the usage. An answer with no text is one chunk."""
    first: list[dict[str, Any]] = []
    last: list[dict[str, Any]] = []
    for candidate in body["candidates"]:
        parts = candidate["content"]["parts"]
        at = next((i for i, p in enumerate(parts) if "text" in p and not p.get("thought")), None)
        if at is None:
            return [body]
        text = parts[at]["text"]
        cut = len(text) // 2
        head = {k: v for k, v in candidate.items() if k != "finishReason"}
        first.append(
            {**head, "content": {"parts": [*parts[:at], {"text": text[:cut]}], "role": "model"}}
        )
        rest = [{"text": text[cut:]}, *parts[at + 1 :]]
        last.append({**candidate, "content": {"parts": rest, "role": "model"}})
    common = {"modelVersion": body["modelVersion"], "responseId": body["responseId"]}
    return [
        {"candidates": first, **common},
        {
            "candidates": last,
            "promptFeedback": body["promptFeedback"],
            "usageMetadata": body["usageMetadata"],
            **common,
        },
    ]


def _numbered(value: Any, int_enums: bool) -> Any:
    """Enum names as numbers when the request asked for ``enum-encoding=int``."""
    if not int_enums:
        return value
    if isinstance(value, list):
        return [_numbered(item, int_enums) for item in value]
    if isinstance(value, dict):
        return {
            key: enum(item, int_enums=True)
            if key in ENUM_FIELDS and isinstance(item, str)
            else _numbered(item, int_enums)
            for key, item in value.items()
        }
    return value


def base_count_tokens(call: Call) -> Response:
    model, _ = _base(call, "countTokens")
    return _count(call, model)


def tuned_count_tokens(call: Call) -> Response:
    return _count(call, catalog.BASE_MODELS[call.tuned_model().base_model])


def _count(call: Call, model: dict[str, Any]) -> Response:
    """``{"contents": [...]}`` or ``{"generateContentRequest": {...}}``, not both."""
    read = Reader().read(call.body, "CountTokensRequest")
    if "contents" in read and "generateContentRequest" in read:
        raise invalid("Only one of contents and generate_content_request may be set.")
    if "generateContentRequest" in read:
        inner = request.checked(read["generateContentRequest"], _limits(model))
        total = tokens.prompt_tokens(
            inner.contents, system_instruction=inner.system_instruction, tools=inner.tools
        )
    else:
        contents = read.get("contents", [])
        for i, content in enumerate(contents):
            request.check_content(content, f"contents[{i}]")
        total = tokens.content_tokens(contents)
    body: dict[str, Any] = {"totalTokens": total}
    if total:
        body["promptTokensDetails"] = [
            {"modality": enum("TEXT", int_enums=call.int_enums), "tokenCount": total}
        ]
    return json_response(body)


def list_models(call: Call) -> Response:
    """Pages of the catalog: 50 by default, at most 1000, with an opaque next-page token."""
    size = call.page_size(default=MODELS_PAGE_DEFAULT)
    names = list(catalog.BASE_MODELS)
    start = _model_cursor(call.query.get("pageToken", ""), len(names))
    page = names[start : start + size]
    body: dict[str, Any] = {"models": [catalog.BASE_MODELS[n] for n in page]}
    if start + size < len(names):
        token = base64.urlsafe_b64encode(json.dumps({"models": start + size}).encode())
        body["nextPageToken"] = token.decode().rstrip("=")
    return json_response(body)


def _model_cursor(token: str, count: int) -> int:
    if not token:
        return 0
    try:
        start = int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["models"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid("Invalid page token.") from None
    if not 0 <= start <= count:
        raise invalid("Invalid page token.")
    return start


def get_model(call: Call) -> Response:
    name = f"models/{call.params['model']}"
    model = catalog.BASE_MODELS.get(name)
    if model is None:
        raise ApiError(404, f"Model {name} is not found for API version {call.api_version}.")
    return json_response(model)
