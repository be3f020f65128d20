"""Whatever the body, generateContent and countTokens answer 200 or a 4xx google.rpc.Status, never a 500."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from reconciler.emulator import EmulatorConfig, create_app
from tests.emulator.openapi import validate

# Names the request schema knows, so the bodies reach deep into the checks.
KEYS = [
    "contents", "parts", "role", "text", "inlineData", "mime_type", "data", "functionCall",
    "name", "args", "functionResponse", "response", "tools", "function_declarations",
    "parameters", "parametersJsonSchema", "type", "properties", "items", "enum", "required",
    "minItems", "maxLength", "minimum", "anyOf", "$ref", "$defs", "toolConfig",
    "functionCallingConfig", "mode", "allowedFunctionNames", "generationConfig",
    "responseMimeType", "responseSchema", "responseJsonSchema", "candidateCount",
    "maxOutputTokens", "stopSequences", "temperature", "safetySettings", "category",
    "threshold", "systemInstruction", "codeExecution", "thinkingConfig", "includeThoughts",
    "generateContentRequest",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["ANY", "any", "OBJECT", "string", "application/json", "text/x.enum", "user", "model", "AAAA", "#/$defs/x", ""]),
    st.text(max_size=8),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=25,
)

CLIENT = TestClient(create_app(EmulatorConfig(seed=1, step_seconds=0)))


def _check(path: str, body: Any) -> None:
    r = CLIENT.post(path, json=body)
    assert r.status_code in (200, 400, 403, 404), (r.status_code, r.text)
    if r.status_code != 200:
        validate(r.json(), "ErrorResponse")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5))
def test_generate_never_fails_with_a_server_error(body: dict[str, Any]) -> None:
    _check("/v1beta/models/gemini-2.5-flash:generateContent", body)
    _check("/v1beta/models/gemini-1.5-flash:countTokens", body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, st.sampled_from(["application/json", "text/x.enum"]))
def test_any_response_schema_gives_an_answer_or_a_400(schema: Any, mime: str) -> None:
    body = {
        "contents": [{"parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": mime, "responseJsonSchema": schema},
    }
    _check("/v1beta/models/gemini-2.5-flash:generateContent", body)
    tools = {"functionDeclarations": [{"name": "f", "parametersJsonSchema": schema}]}
    called = {
        "contents": [{"parts": [{"text": "call f"}]}],
        "tools": [tools],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }
    _check("/v1beta/models/gemini-2.5-flash:generateContent", called)
