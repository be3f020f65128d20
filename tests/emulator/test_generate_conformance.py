"""generateContent, streamGenerateContent and countTokens over real HTTP, as the API reference has them.

Every answer is checked against the v1beta OpenAPI schemas with closed objects;
JSON-mode text and function-call arguments against the schema the request gave
(written out here as JSON Schema, independently of the emulator's conversion).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from tests.emulator.openapi import validate
from tests.support.servers import ServedEmulator

FLASH = "/v1beta/models/gemini-1.5-flash"
RATINGS = [
    {"category": f"HARM_CATEGORY_{name}", "probability": "NEGLIGIBLE"}
    for name in ("HATE_SPEECH", "DANGEROUS_CONTENT", "HARASSMENT", "SEXUALLY_EXPLICIT")
]


@pytest.fixture
def http(emulator: ServedEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


def ok(response: httpx.Response, schema: str = "GenerateContentResponse") -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, schema)
    return body


def refused(response: httpx.Response, code: int = 400) -> str:
    assert response.status_code == code, response.text
    validate(response.json(), "ErrorResponse")
    message: str = response.json()["error"]["message"]
    return message


def text_of(body: dict[str, Any], index: int = 0) -> str:
    parts = body["candidates"][index]["content"]["parts"]
    return "".join(p.get("text", "") for p in parts if not p.get("thought"))


def user(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def test_a_plain_request_gets_the_whole_answer(http: httpx.Client) -> None:
    body = ok(http.post(f"{FLASH}:generateContent", json=user("Write a story")))

    assert body == {
        "candidates": [
            {
                "content": {
                    "parts": [{"text": "models/gemini-1.5-flash received: Write a story"}],
                    "role": "model",
                },
                "finishReason": "STOP",
                "safetyRatings": RATINGS,
            }
        ],
        "promptFeedback": {"safetyRatings": RATINGS},
        "usageMetadata": {
            "promptTokenCount": 4,
            "candidatesTokenCount": 12,
            "totalTokenCount": 16,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
        },
        "modelVersion": "gemini-1.5-flash-002",
        "responseId": body["responseId"],
    }
    assert len(body["responseId"]) == 32


def test_lenient_bodies_as_googles_samples_send_them(http: httpx.Client) -> None:
    """Trailing commas, a raw newline in a string, one object for a list, snake_case, any-case enums."""
    raw = (
        '{"system_instruction": {"parts": {"text": "You are a cat."}},\n'
        ' "contents": {"role": "user", "parts": {"text": "Hello\nthere"},},\n'
        ' "safety_settings": [{"category": "harm_category_harassment", "threshold": "block_none"},],\n'
        ' "generationConfig": {"stopSequences": ["zzz"], "max_output_tokens": 800, "temperature": 1.0,},\n'
        "}"
    )
    body = ok(http.post(f"{FLASH}:generateContent", content=raw.encode()))
    assert text_of(body) == "models/gemini-1.5-flash received: Hello\nthere"
    prompt = body["usageMetadata"]["promptTokenCount"]
    counted = ok(
        http.post(
            f"{FLASH}:countTokens",
            json={
                "generate_content_request": {
                    "system_instruction": {"parts": {"text": "You are a cat."}},
                    "contents": {"role": "user", "parts": {"text": "Hello\nthere"}},
                }
            },
        ),
        "CountTokensResponse",
    )
    assert counted["totalTokens"] == prompt == 7


def test_every_part_kind_in_a_history_is_accepted(http: httpx.Client) -> None:
    history = {
        "contents": [
            {"role": "user", "parts": [{"text": "Look"}, {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}}]},
            {"role": "user", "parts": [{"file_data": {"mime_type": "application/pdf", "file_uri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}]},
            {"role": "model", "parts": [{"text": "Let me think", "thought": True}, {"text": ""}]},
            {"role": "model", "parts": [{"executable_code": {"language": "python", "code": "print(1)"}}]},
            {"role": "model", "parts": [{"code_execution_result": {"outcome": "outcome_ok", "output": "1\n"}}]},
            {"role": "model", "parts": [{"function_call": {"name": "find", "args": {"q": "x"}}}]},
            {"role": "user", "parts": [{"function_response": {"name": "find", "response": {"found": 2}}}]},
        ],
    }  # fmt: skip
    body = ok(http.post(f"{FLASH}:generateContent", json=history))
    assert text_of(body) == 'find returned {"found": 2}'
    counted = ok(http.post(f"{FLASH}:countTokens", json=history), "CountTokensResponse")
    assert counted["totalTokens"] == body["usageMetadata"]["promptTokenCount"]


def test_json_mode_follows_the_response_schema(http: httpx.Client) -> None:
    schema = {
        "type": "ARRAY",
        "items": {
            "type": "OBJECT",
            "properties": {
                "recipe_name": {"type": "STRING"},
                "rating": {"type": "INTEGER", "minimum": 1, "maximum": 5},
                "course": {"type": "STRING", "enum": ["starter", "main", "dessert"]},
                "ingredients": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": "3"},
                "vegan": {"type": "BOOLEAN", "nullable": True},
            },
            "required": ["recipe_name", "course"],
            "propertyOrdering": ["course", "recipe_name"],
        },
        "minItems": 1,
    }
    as_json_schema = {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["recipe_name", "course"],
            "properties": {
                "recipe_name": {"type": "string"},
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "course": {"enum": ["starter", "main", "dessert"]},
                "ingredients": {"type": "array", "items": {"type": "string"}, "minItems": 3},
                "vegan": {"type": ["boolean", "null"]},
            },
        },
    }
    request = {
        **user("List a few cookie recipes"),
        "generation_config": {"response_mime_type": "application/json", "response_schema": schema},
    }
    body = ok(http.post(f"{FLASH}:generateContent", json=request))
    value = json.loads(text_of(body))
    jsonschema.validate(value, as_json_schema)
    assert list(value[0])[:2] == ["course", "recipe_name"]  # propertyOrdering
    assert ok(http.post(f"{FLASH}:generateContent", json=request)) == body  # deterministic


def test_json_mode_follows_a_json_schema_with_definitions(http: httpx.Client) -> None:
    json_schema = {
        "$defs": {
            "Step": {
                "type": "object",
                "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}, "say": {"type": "string", "maxLength": 4}},
                "required": ["n", "say"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 12},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}, "minItems": 2, "maxItems": 3},
            "kind": {"const": "plan"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["title", "steps", "kind"],
        "additionalProperties": False,
    }  # fmt: skip
    request = {
        **user("Plan a party"),
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseJsonSchema": json_schema,
        },
    }
    value = json.loads(text_of(ok(http.post(f"{FLASH}:generateContent", json=request))))
    jsonschema.validate(value, json_schema)


def test_enum_mode_answers_one_of_the_values(http: httpx.Client) -> None:
    request = {
        **user("What kind of instrument is an oboe?"),
        "generationConfig": {
            "responseMimeType": "text/x.enum",
            "responseSchema": {"type": "STRING", "enum": ["Percussion", "String", "Woodwind"]},
        },
    }
    assert text_of(ok(http.post(f"{FLASH}:generateContent", json=request))) in (
        "Percussion",
        "String",
        "Woodwind",
    )


LIGHTS = {
    "name": "set_light_values",
    "description": "Set the brightness and color temperature of a room light.",
    "parameters": {
        "type": "object",
        "properties": {
            "brightness": {"type": "integer", "minimum": 0, "maximum": 100},
            "color_temp": {"type": "string", "enum": ["daylight", "cool", "warm"]},
        },
        "required": ["brightness", "color_temp"],
    },
}
LIGHTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["brightness", "color_temp"],
    "properties": {
        "brightness": {"type": "integer", "minimum": 0, "maximum": 100},
        "color_temp": {"enum": ["daylight", "cool", "warm"]},
    },
}
MUSIC = {
    "name": "play_music",
    "description": "Play music.",
    "parametersJsonSchema": {
        "type": "object",
        "properties": {"genre": {"type": "string"}, "loud": {"type": "boolean"}},
        "required": ["genre"],
        "additionalProperties": False,
    },
}


def _call(http: httpx.Client, prompt: str, mode: str | None, **calling: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        **user(prompt),
        "tools": [{"function_declarations": [LIGHTS, MUSIC]}],
    }
    if mode is not None:
        request["tool_config"] = {"function_calling_config": {"mode": mode, **calling}}
    return dict(ok(http.post(f"{FLASH}:generateContent", json=request)))


def test_function_calling_modes(http: httpx.Client) -> None:
    any_mode = _call(http, "Dim the lights", "any")
    (part,) = any_mode["candidates"][0]["content"]["parts"]
    assert part["functionCall"]["name"] == "set_light_values"
    jsonschema.validate(part["functionCall"]["args"], LIGHTS_SCHEMA)

    allowed = _call(http, "Dim the lights", "ANY", allowed_function_names=["play_music"])
    call = allowed["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call["name"] == "play_music"
    jsonschema.validate(call["args"], MUSIC["parametersJsonSchema"])

    named = _call(http, "Please call play music now", None)
    assert named["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "play_music"
    assert (
        "functionCall" not in _call(http, "Hello", "AUTO")["candidates"][0]["content"]["parts"][0]
    )
    none = _call(http, "Please call play music now", "none")
    assert text_of(none) == "models/gemini-1.5-flash received: Please call play music now"


def test_code_execution_answers_with_code_and_its_result(http: httpx.Client) -> None:
    request = {**user("Sum the first 5 primes"), "tools": [{"code_execution": {}}]}
    parts = ok(http.post(f"{FLASH}:generateContent", json=request))["candidates"][0]["content"][
        "parts"
    ]
    assert parts == [
        {"executableCode": {"language": "PYTHON", "code": "print('Sum the first 5 primes')"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "Sum the first 5 primes\n"}},
        {"text": "models/gemini-1.5-flash received: Sum the first 5 primes"},
    ]


def test_usage_agrees_with_count_tokens_with_system_instruction_and_tools(
    http: httpx.Client,
) -> None:
    request = {
        **user("Dim the lights"),
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"functionDeclarations": [LIGHTS]}],
        "toolConfig": {"functionCallingConfig": {"mode": "NONE"}},
    }
    usage = ok(http.post(f"{FLASH}:generateContent", json=request))["usageMetadata"]
    counted = ok(
        http.post(f"{FLASH}:countTokens", json={"generateContentRequest": request}),
        "CountTokensResponse",
    )
    assert counted["totalTokens"] == usage["promptTokenCount"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    only_contents = ok(
        http.post(f"{FLASH}:countTokens", json=user("Dim the lights")), "CountTokensResponse"
    )
    assert only_contents == {
        "totalTokens": 4,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
    }


def test_thinking_models_can_show_their_thoughts(http: httpx.Client) -> None:
    request = {
        **user("Why?"),
        "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 128}},
    }
    body = ok(http.post("/v1beta/models/gemini-2.5-flash:generateContent", json=request))
    first, answer = body["candidates"][0]["content"]["parts"]
    assert first == {"text": "Thinking about: Why?", "thought": True}
    assert answer == {"text": "models/gemini-2.5-flash received: Why?"}
    assert body["usageMetadata"]["thoughtsTokenCount"] == 5
    assert body["modelVersion"] == "gemini-2.5-flash"
    message = refused(http.post(f"{FLASH}:generateContent", json=request))
    assert (
        message
        == "* GenerateContentRequest.generation_config.thinking_config: thinking is not supported by this model.\n"
    )


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_streaming_as_sse_and_as_a_json_array(http: httpx.Client, version: str) -> None:
    path = f"/{version}/models/gemini-2.0-flash"
    whole = ok(http.post(f"{path}:generateContent", json=user("Tell me a joke")))
    sse = http.post(f"{path}:streamGenerateContent?alt=sse", json=user("Tell me a joke"))
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.text.endswith("\r\n\r\n")
    events = [json.loads(e.removeprefix("data: ")) for e in sse.text.split("\r\n\r\n") if e]
    array = http.post(f"{path}:streamGenerateContent", json=user("Tell me a joke")).json()
    assert events == array and len(events) == 2
    for event in events:
        validate(event, "GenerateContentResponse")
        assert event["modelVersion"] == "gemini-2.0-flash-001"
    assert "".join(text_of(e) for e in events) == text_of(whole)
    assert events[-1]["usageMetadata"] == whole["usageMetadata"]
    assert "finishReason" not in events[0]["candidates"][0]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        (
            {**user("x"), "generationConfig": {"temprature": 1}},
            "Invalid JSON payload received. Unknown name \"temprature\" at 'generation_config': Cannot find field.",
        ),
        (
            {**user("x"), "generationConfig": {"temperature": "hot"}},
            "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"",
        ),
        (
            {**user("x"), "safetySettings": [{"category": "HARM_CATEGORY_RUDE", "threshold": "BLOCK_NONE"}]},
            "Invalid value at 'safety_settings[0].category' (type.googleapis.com/google.ai.generativelanguage.v1beta.HarmCategory), \"HARM_CATEGORY_RUDE\"",
        ),
        (
            {"contents": "Hello"},
            "Invalid value at 'contents[0]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), \"Hello\"",
        ),
        ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
        (
            {"contents": [{"parts": [{}]}]},
            "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized field\n",
        ),
        (
            {"contents": [{"parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": "AA=="}}]}]},
            "Invalid value at 'contents[0].parts[0]' (oneof), oneof field 'data' is already set. Cannot set 'inlineData'",
        ),
        ({"contents": [{"role": "robot", "parts": [{"text": "a"}]}]}, "Please use a valid role: user, model. Got 'robot'."),
        (
            {**user("x"), "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}] * 2},
            "* GenerateContentRequest.safety_settings[1].category: duplicate category HARM_CATEGORY_HARASSMENT: give each category at most once.\n",
        ),
        (
            {**user("x"), "generationConfig": {"temperature": 2.5}},
            "* GenerateContentRequest.generation_config.temperature: temperature must be in the range [0, 2], got 2.5.\n",
        ),
        (
            {**user("x"), "generationConfig": {"candidateCount": 9}},
            "* GenerateContentRequest.generation_config.candidate_count: candidate_count must be between 1 and 8.\n",
        ),
        (
            {**user("x"), "generationConfig": {"responseMimeType": "text/csv"}},
            "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n",
        ),
        (
            {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "not base64!"}}]}]},
            "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"not base64!\"",
        ),
        (
            {**user("x"), "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}},
            "* GenerateContentRequest.tool_config.function_calling_config.mode: mode ANY needs at least one function declaration.\n",
        ),
    ],
)  # fmt: skip
def test_invalid_requests_get_the_services_messages(
    http: httpx.Client, request_body: dict[str, Any], message: str
) -> None:
    assert refused(http.post(f"{FLASH}:generateContent", json=request_body)) == message


def test_unknown_fields_are_all_named_with_a_bad_request_detail(http: httpx.Client) -> None:
    r = http.post(
        f"{FLASH}:generateContent", json={**user("x"), "foo": 1, "generation_config": {"bar": 2}}
    )
    refused(r)
    assert r.json()["error"]["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {"field": "", "description": 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'},
                {"field": "generation_config", "description": "Invalid JSON payload received. Unknown name \"bar\" at 'generation_config': Cannot find field."},
            ],
        }
    ]  # fmt: skip


def test_missing_models_and_caches(http: httpx.Client) -> None:
    assert refused(http.post("/v1beta/models/gemini-0.5:generateContent", json=user("x")), 404) == (
        "models/gemini-0.5 is not found for API version v1beta, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods."
    )
    assert refused(http.post("/v1/models/gemini-0.5:countTokens", json=user("x")), 404).endswith(
        "is not supported for countTokens. Call ListModels to see the list of available "
        "models and their supported methods."
    )
    cached = http.post(
        f"{FLASH}:generateContent", json={**user("x"), "cachedContent": "cachedContents/abc"}
    )
    assert refused(cached, 403) == "CachedContent not found (or permission denied)"


def test_enum_numbers_on_request_as_google_generativelanguage_asks(http: httpx.Client) -> None:
    """``$alt=json;enum-encoding=int``: every enum of an answer (finish reason, safety,
    modality, code language and outcome) as its number."""
    request = {**user("Sum it"), "tools": [{"codeExecution": {}}]}
    r = http.post(f"{FLASH}:generateContent?%24alt=json%3Benum-encoding%3Dint", json=request)
    body = r.json()
    validate(body, "GenerateContentResponse", int_enums=True)
    candidate = body["candidates"][0]
    assert candidate["finishReason"] == 1
    assert candidate["safetyRatings"][0] == {"category": 8, "probability": 1}
    assert candidate["content"]["parts"][0]["executableCode"]["language"] == 1
    assert candidate["content"]["parts"][1]["codeExecutionResult"]["outcome"] == 1
    assert body["usageMetadata"]["promptTokensDetails"] == [{"modality": 1, "tokenCount": 8}]


def test_a_tuned_model_answers_with_its_closest_example_and_counts_tokens(
    http: httpx.Client,
) -> None:
    examples = [
        {"textInput": "hello there", "output": "HELLO THERE!"},
        {"textInput": "bye", "output": "BYE!"},
    ]
    create = {
        "baseModel": "models/gemini-1.5-flash-001-tuning",
        "tuningTask": {"trainingData": {"examples": {"examples": examples}}},
    }  # fmt: skip
    assert http.post("/v1beta/tunedModels?tunedModelId=shout", json=create).is_success
    request = {
        **user("well hello"),
        "generationConfig": {"candidateCount": 2, "responseMimeType": "application/json"},
    }
    body = ok(http.post("/v1/tunedModels/shout:generateContent", json=request))
    assert [text_of(body, 0), text_of(body, 1)] == ["HELLO THERE!", "BYE!"]
    assert body["modelVersion"] == "gemini-1.5-flash-001-tuning"
    counted = ok(
        http.post("/v1beta/tunedModels/shout:countTokens", json=user("well hello")),
        "CountTokensResponse",
    )
    assert counted["totalTokens"] == body["usageMetadata"]["promptTokenCount"] == 3


def test_a_schema_that_refers_to_itself_for_ever_is_a_400(http: httpx.Client) -> None:
    looping = {"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}
    request = {
        **user("x"),
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": looping},
    }
    assert refused(http.post(f"{FLASH}:generateContent", json=request)) == (
        "* GenerateContentRequest: a schema in the request cannot be used: "
        "it nests (or refers to itself) too deeply\n"
    )
