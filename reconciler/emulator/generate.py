"""``:generateContent`` and ``:streamGenerateContent`` on tuned and base models.

Answers are deterministic: a tuned model replies with the output of its closest
training example (word overlap), so tests can assert on the text.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import Response

from reconciler.emulator import catalog
from reconciler.emulator.call import Call
from reconciler.emulator.tuning import ACTIVE, progress
from reconciler.emulator.wire import ApiError, dumps, enum, invalid, json_response

CHARS_PER_TOKEN = 4  # a simple, stable token estimate


def tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def tuned_generate(call: Call) -> Response:
    return _answer(call, _tuned_candidates(call))


def base_generate(call: Call) -> Response:
    return _answer(call, _base_candidates(call))


def _prompt(body: dict[str, Any]) -> str:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified\n")
    texts: list[str] = []
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts:
            raise invalid(
                f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            )
        role = content.get("role", "user")
        if role not in ("user", "model", ""):
            raise invalid(f"Please use a valid role: user, model. Got {role!r}.")
        for j, part in enumerate(parts):
            if not isinstance(part, dict) or not isinstance(part.get("text"), str):
                raise invalid(
                    f"* GenerateContentRequest.contents[{i}].parts[{j}].data: required oneof field 'data' must have one initialized field\n"
                )
            if role != "model":
                texts.append(part["text"])
    return "\n".join(texts)


def _tuned_candidates(call: Call) -> tuple[str, list[str]]:
    record = call.tuned_model()
    prompt = _prompt(call.body)
    state = progress(record, call.now).state
    if state != ACTIVE:
        raise ApiError(
            400,
            f"Tuned model {record.name} is not ready for use (state {state}).",
            status="FAILED_PRECONDITION",
        )
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

    ranked = sorted(enumerate(record.examples), key=closeness)
    return prompt, [output for _, (_, output) in ranked]


def _base_candidates(call: Call) -> tuple[str, list[str]]:
    name = f"models/{call.params['model']}"
    if name not in catalog.BASE_MODELS:
        raise ApiError(
            404,
            f"{name} is not found for API version {call.api_version}, or is not supported for generateContent.",
        )
    prompt = _prompt(call.body)
    return prompt, [f"{name} received: {prompt}"]


def _answer(call: Call, found: tuple[str, list[str]]) -> Response:
    prompt, outputs = found
    config = call.body.get("generationConfig") or {}
    count = int(config.get("candidateCount") or 1)
    if count < 1 or count > 8:
        raise invalid("candidate_count must be between 1 and 8.")
    max_tokens = config.get("maxOutputTokens")
    stops = [s for s in config.get("stopSequences") or [] if s]
    candidates: list[dict[str, Any]] = []
    total_out = 0
    for index in range(count):
        text, reason = _shape(outputs[index % len(outputs)], max_tokens, stops)
        total_out += tokens(text)
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
        candidate["finishReason"] = enum(reason, int_enums=call.int_enums)
        if index:
            candidate["index"] = index
        candidates.append(candidate)
    usage = {
        "promptTokenCount": tokens(prompt),
        "candidatesTokenCount": total_out,
        "totalTokenCount": tokens(prompt) + total_out,
    }
    if call.params.get("stream"):
        return _stream(call, candidates, usage)
    return json_response({"candidates": candidates, "usageMetadata": usage})


def _shape(text: str, max_tokens: Any, stops: list[str]) -> tuple[str, str]:
    for stop in stops:
        if stop in text:
            text = text[: text.index(stop)]
    if max_tokens is not None and tokens(text) > int(max_tokens):
        return text[: int(max_tokens) * CHARS_PER_TOKEN], "MAX_TOKENS"
    return text, "STOP"


def _stream(call: Call, candidates: list[dict[str, Any]], usage: dict[str, int]) -> Response:
    """Two chunks per answer: ``?alt=sse`` as ``data:`` events, otherwise one JSON array."""
    first: list[dict[str, Any]] = []
    last: list[dict[str, Any]] = []
    for candidate in candidates:
        text = candidate["content"]["parts"][0]["text"]
        cut = len(text) // 2
        head = {k: v for k, v in candidate.items() if k != "finishReason"}
        first.append({**head, "content": {"parts": [{"text": text[:cut]}], "role": "model"}})
        last.append({**candidate, "content": {"parts": [{"text": text[cut:]}], "role": "model"}})
    chunks = [{"candidates": first}, {"candidates": last, "usageMetadata": usage}]
    if call.query.get("alt") == "sse":
        text = "".join(f"data: {dumps(chunk)}\r\n\r\n" for chunk in chunks)
        return Response(text.encode(), media_type="text/event-stream")
    return json_response(chunks)


def list_models(call: Call) -> Response:
    size = call.page_size(default=50)
    models = list(catalog.BASE_MODELS.values())[:size]
    return json_response({"models": models})


def get_model(call: Call) -> Response:
    name = f"models/{call.params['model']}"
    model = catalog.BASE_MODELS.get(name)
    if model is None:
        raise ApiError(404, f"Model {name} is not found for API version {call.api_version}.")
    return json_response(model)
