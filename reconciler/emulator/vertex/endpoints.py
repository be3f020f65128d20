"""``projects/{p}/locations/{l}/endpoints/{e}:generateContent``: the tuned model answering.

An endpoint exists once its tuning job has succeeded. Answers are
deterministic, as for Gemini API tuned models: the reply of the training
example whose prompt shares the most words with the request's.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from reconciler.emulator.call import Call
from reconciler.emulator.vertex import catalog
from reconciler.emulator.vertex.datasets import CHARS_PER_TOKEN, tokens
from reconciler.emulator.vertex.jobs import SUCCEEDED, TuningJobRecord, progress
from reconciler.emulator.wire import ApiError, dumps, invalid, json_response, rfc3339

MAX_CANDIDATES = 8


def generate(call: Call) -> Response:
    record = _endpoint(call)
    prompt = _prompt(call.body)
    config = call.body.get("generationConfig") or {}
    if not isinstance(config, dict):
        raise invalid("generation_config must be an object.")
    count = config.get("candidateCount") or 1
    if not isinstance(count, int) or not 1 <= count <= MAX_CANDIDATES:
        raise invalid(f"candidate_count must be between 1 and {MAX_CANDIDATES}.")
    replies = closest_replies(record.examples, prompt)
    candidates = []
    produced = 0
    for index in range(count):
        text, reason = _shaped(replies[index % len(replies)], config)
        produced += tokens(len(text))
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": reason,
        }
        if index:
            candidate["index"] = index
        candidates.append(candidate)
    asked = tokens(len(prompt))
    answer = {
        "candidates": candidates,
        "usageMetadata": {
            "promptTokenCount": asked,
            "candidatesTokenCount": produced,
            "totalTokenCount": asked + produced,
            "trafficType": "ON_DEMAND",
        },
        "modelVersion": record.base_model,
        "createTime": rfc3339(call.now),
    }
    if call.params.get("stream"):
        # Server-sent events with ?alt=sse, as google-genai asks; else one JSON array.
        if call.query.get("alt") == "sse":
            return Response(
                f"data: {dumps(answer)}\r\n\r\n".encode(), media_type="text/event-stream"
            )
        return json_response([answer])
    return json_response(answer)


def _endpoint(call: Call) -> TuningJobRecord:
    project = catalog.project_number(call.params["project"])
    name = f"projects/{project}/locations/{call.params['location']}/endpoints/{call.params['endpoint']}"
    record = call.emulator.vertex.by_endpoint(name)
    gone = record is None or record.endpoint_deleted_at is not None
    if gone or record is None or progress(record, call.now).state != SUCCEEDED:
        raise ApiError(404, f"Endpoint `{name}` not found.")
    if record.undeployed_at is not None:
        raise ApiError(
            400, f"Endpoint `{name}` has no deployed model.", status="FAILED_PRECONDITION"
        )
    return record


def _prompt(body: dict[str, Any]) -> str:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid("Unable to submit request because it has an empty contents field.")
    texts: list[str] = []
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts:
            raise invalid(f"contents[{i}].parts must not be empty.")
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise invalid(f"Please use a valid role: user, model. Got {role!r}.")
        for part in parts:
            if isinstance(part, dict) and isinstance(part.get("text"), str) and role == "user":
                texts.append(part["text"])
    return "\n".join(texts)


def closest_replies(examples: list[tuple[str, str]], prompt: str) -> list[str]:
    """Replies of the examples, closest prompt first (exact match, then word overlap)."""
    words = set(prompt.lower().split())

    def distance(item: tuple[int, tuple[str, str]]) -> tuple[bool, float, int]:
        index, (text, _) = item
        other = set(text.lower().split())
        union = words | other
        overlap = len(words & other) / len(union) if union else 0.0
        return text.strip() != prompt.strip(), -overlap, index

    return [reply for _, (_, reply) in sorted(enumerate(examples), key=distance)]


def _shaped(text: str, config: dict[str, Any]) -> tuple[str, str]:
    for stop in config.get("stopSequences") or []:
        if isinstance(stop, str) and stop and stop in text:
            text = text[: text.index(stop)]
    limit = config.get("maxOutputTokens")
    if isinstance(limit, int) and tokens(len(text)) > limit:
        return text[: limit * CHARS_PER_TOKEN], "MAX_TOKENS"
    return text, "STOP"
