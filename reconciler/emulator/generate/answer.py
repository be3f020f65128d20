"""The answer to a checked GenerateContentRequest: deterministic, and true to what was asked.

What a candidate holds, in order of precedence:

1. the last turn returns a function's result -> text that reports it;
2. function declarations with mode ANY (or VALIDATED), or AUTO and a prompt
   that names a declared function -> a ``functionCall`` whose ``args`` validate
   against the declared parameters;
3. the codeExecution tool -> ``executableCode``, its ``codeExecutionResult``
   and a closing text;
4. otherwise text: a tuned model's closest training example (always, JSON mode
   or not: it answers as it was trained), or for a base model a fixed sentence
   about the prompt, as JSON valid against ``responseSchema`` /
   ``responseJsonSchema`` in JSON mode, one of the enum values for
   ``text/x.enum``.

Stop sequences and ``maxOutputTokens`` cut the text. Every candidate carries
safety ratings (all NEGLIGIBLE: nothing is ever blocked), the response
``promptFeedback``, ``usageMetadata`` counted as ``:countTokens`` counts,
``modelVersion`` and a ``responseId`` that is the same for the same request. Pure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reconciler.emulator.generate import tokens, values
from reconciler.emulator.generate.request import GenerateRequest

SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)


@dataclass(frozen=True)
class Responder:
    """Who answers: a base model (``examples`` None) or a tuned model's ranked outputs."""

    name: str
    model_version: str
    ranked_outputs: list[str] | None = None


def safety_ratings() -> list[dict[str, str]]:
    return [{"category": c, "probability": "NEGLIGIBLE"} for c in SAFETY_CATEGORIES]


def prompt_text(request: GenerateRequest) -> str:
    """The user's words in the conversation, joined by newlines."""
    texts = [
        part["text"]
        for content in request.contents
        if content.get("role", "user") in ("user", "")
        for part in content["parts"]
        if "text" in part and not part.get("thought")
    ]
    return "\n".join(texts)


def respond(request: GenerateRequest, responder: Responder) -> dict[str, Any]:
    """The whole GenerateContentResponse (enum names; the caller may number them)."""
    prompt = prompt_text(request)
    count = int(request.config.get("candidateCount", 1))
    candidates = []
    output_tokens = 0
    thought_tokens = 0
    for index in range(count):
        parts, reason = _parts(request, responder, prompt, index)
        for part in parts:
            if part.get("thought"):
                thought_tokens += tokens.part_tokens(part)
            else:
                output_tokens += tokens.part_tokens(part)
        candidate: dict[str, Any] = {
            "content": {"parts": parts, "role": "model"},
            "finishReason": reason,
            "safetyRatings": safety_ratings(),
        }
        if index:
            candidate["index"] = index
        candidates.append(candidate)
    prompt_count = tokens.prompt_tokens(
        request.contents, system_instruction=request.system_instruction, tools=request.tools
    )
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_count,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_count + output_tokens + thought_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_count}],
    }
    if thought_tokens:
        usage["thoughtsTokenCount"] = thought_tokens
    return {
        "candidates": candidates,
        "promptFeedback": {"safetyRatings": safety_ratings()},
        "usageMetadata": usage,
        "modelVersion": responder.model_version,
        "responseId": response_id(request, responder),
    }


def response_id(request: GenerateRequest, responder: Responder) -> str:
    digest = hashlib.sha256(
        json.dumps([responder.name, request.contents, request.config], sort_keys=True).encode()
    ).digest()
    return digest[:16].hex()


def _parts(
    request: GenerateRequest, responder: Responder, prompt: str, index: int
) -> tuple[list[dict[str, Any]], str]:
    thoughts = []
    if request.config.get("thinkingConfig", {}).get("includeThoughts"):
        thoughts = [{"text": f"Thinking about: {prompt}", "thought": True}]
    last = request.contents[-1]["parts"]
    returned = [p["functionResponse"] for p in last if "functionResponse" in p]
    if returned:
        summary = "; ".join(
            f"{r['name']} returned {json.dumps(r.get('response', {}), sort_keys=True)}"
            for r in returned
        )
        return [*thoughts, *_text(summary, request.config)[0]], "STOP"
    call = _function_call(request, prompt)
    if call is not None:
        return [*thoughts, {"functionCall": call}], "STOP"
    text, reason = _final_text(request, responder, prompt, index)
    parts, reason = _text(text, request.config, reason)
    if request.has_tool("codeExecution"):
        code = f"print({prompt!r})"
        parts = [
            {"executableCode": {"language": "PYTHON", "code": code}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": prompt + "\n"}},
            *parts,
        ]
    return [*thoughts, *parts], reason


def _function_call(request: GenerateRequest, prompt: str) -> dict[str, Any] | None:
    declarations = request.declarations
    calling = request.tool_config.get("functionCallingConfig", {})
    mode = calling.get("mode", "AUTO")
    if not declarations or mode == "NONE":
        return None
    lowered = prompt.lower()

    def named(declaration: dict[str, Any]) -> bool:
        name = str(declaration["name"]).lower()
        return name in lowered or name.replace("_", " ") in lowered

    if mode in ("ANY", "VALIDATED"):
        allowed = calling.get("allowedFunctionNames") or [d["name"] for d in declarations]
        usable = [d for d in declarations if d["name"] in allowed]
        chosen = next((d for d in usable if named(d)), usable[0])
    else:
        found = next((d for d in declarations if named(d)), None)
        if found is None:
            return None
        chosen = found
    return {"name": chosen["name"], "args": arguments(chosen, seed=prompt)}


def arguments(declaration: dict[str, Any], *, seed: str) -> dict[str, Any]:
    """Arguments valid against the declaration's ``parameters`` or ``parametersJsonSchema``."""
    if "parametersJsonSchema" in declaration:
        schema = declaration["parametersJsonSchema"]
    elif "parameters" in declaration:
        schema = values.to_json_schema(declaration["parameters"])
    else:
        return {}
    args = values.generate(schema, seed=f"{seed}\0{declaration['name']}")
    return args if isinstance(args, dict) else {}


def _final_text(
    request: GenerateRequest, responder: Responder, prompt: str, index: int
) -> tuple[str, str]:
    if responder.ranked_outputs is not None:
        outputs = responder.ranked_outputs
        return outputs[index % len(outputs)], "STOP"
    sentence = f"{responder.name} received: {prompt}"
    config = request.config
    mime = config.get("responseMimeType", "text/plain")
    schema = config.get("responseJsonSchema")
    if schema is None and "responseSchema" in config:
        schema = values.to_json_schema(config["responseSchema"])
    seed = f"{prompt}\0{index}"
    if mime == "application/json":
        value = values.generate(schema, seed=seed) if schema is not None else {"text": sentence}
        return json.dumps(value, ensure_ascii=False), "STOP"
    if mime == "text/x.enum" and schema is not None:
        return str(values.generate(schema, seed=seed)), "STOP"
    if mime == "application/xml":
        return f"<response>{escape(sentence)}</response>", "STOP"
    if mime == "application/yaml":
        return f"text: {json.dumps(sentence, ensure_ascii=False)}", "STOP"
    return sentence, "STOP"


def _text(
    text: str, config: dict[str, Any], reason: str = "STOP"
) -> tuple[list[dict[str, Any]], str]:
    for stop in config.get("stopSequences", []):
        if stop and stop in text:
            text = text[: text.index(stop)]
    limit = config.get("maxOutputTokens")
    if limit is not None and tokens.text_tokens(text) > limit:
        text, reason = text[: limit * tokens.CHARS_PER_TOKEN], "MAX_TOKENS"
    return [{"text": text}], reason
