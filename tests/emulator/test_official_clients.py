"""Google's own client libraries, unmodified, against a served emulator: generateContent's everyday uses."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from tests.support.servers import ServedEmulator, serve_emulator

KEY = "client-test-key"

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import google.generativeai as legacy
    from google import genai
    from google.genai import types


class Recipe(BaseModel):
    recipe_name: str
    ingredients: list[str]
    minutes: int


@pytest.fixture(scope="module")
def served() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--seed", "3", api_key=KEY) as server:
        yield server


@pytest.fixture(params=["v1beta", "v1"])
def client(served: ServedEmulator, request: pytest.FixtureRequest) -> genai.Client:
    options = types.HttpOptions(base_url=served.url, api_version=request.param)
    return genai.Client(api_key=KEY, http_options=options)


def test_genai_parses_a_pydantic_response_schema(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="List a cookie recipe.",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=list[Recipe]
        ),
    )
    recipes: Any = response.parsed
    assert isinstance(recipes, list) and recipes
    assert all(isinstance(r, Recipe) for r in recipes)
    single = client.models.generate_content(
        model="gemini-2.0-flash",
        contents="One recipe.",
        config={"response_mime_type": "application/json", "response_schema": Recipe},
    )
    assert isinstance(single.parsed, Recipe)
    assert single.usage_metadata is not None and single.usage_metadata.prompt_token_count == 3


def test_genai_function_calling_without_automatic_calls(client: genai.Client) -> None:
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Current weather in a city."""
        raise AssertionError("automatic function calling is off: never called")

    response = client.models.generate_content(
        model="gemini-1.5-flash",
        contents="What is the weather in Paris?",
        config=types.GenerateContentConfig(
            tools=[get_weather],
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            tool_config=types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(mode="ANY")
            ),
        ),
    )
    (call,) = response.function_calls or []
    assert call.name == "get_weather"
    assert isinstance(call.args, dict) and isinstance(call.args["city"], str)


def test_genai_count_tokens_chat_and_streaming(client: genai.Client) -> None:
    counted = client.models.count_tokens(model="gemini-1.5-flash", contents="Hello there")
    generated = client.models.generate_content(model="gemini-1.5-flash", contents="Hello there")
    assert generated.usage_metadata is not None
    assert counted.total_tokens == generated.usage_metadata.prompt_token_count == 3

    chat = client.chats.create(model="gemini-2.0-flash")
    first = chat.send_message("Hi, I have two dogs.")
    second = chat.send_message("How many paws are in my house?")
    assert first.text == "models/gemini-2.0-flash received: Hi, I have two dogs."
    assert second.text == (
        "models/gemini-2.0-flash received: Hi, I have two dogs.\nHow many paws are in my house?"
    )
    assert len(chat.get_history()) == 4

    chunks = list(
        client.models.generate_content_stream(model="gemini-1.5-flash", contents="Stream it")
    )
    assert len(chunks) == 2
    assert "".join(c.text or "" for c in chunks) == "models/gemini-1.5-flash received: Stream it"


@pytest.fixture
def configured(served: ServedEmulator) -> None:
    legacy.configure(api_key=KEY, transport="rest", client_options={"api_endpoint": served.url})


@pytest.mark.usefixtures("configured")
def test_google_generativeai_over_rest() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = legacy.GenerativeModel("gemini-1.5-flash", system_instruction="Be brief.")
        response = model.generate_content("Write a haiku")
        assert response.text == "models/gemini-1.5-flash received: Write a haiku"
        # The system instruction counts too, as in the answer's usage.
        assert model.count_tokens("Write a haiku").total_tokens == 7
        assert response.usage_metadata.prompt_token_count == 7

        chat = model.start_chat()
        chat.send_message("My name is Ada.")
        reply = chat.send_message("What is my name?")
        assert reply.text.endswith("My name is Ada.\nWhat is my name?")
        assert len(chat.history) == 4

        streamed = model.generate_content("Stream it", stream=True)
        assert "".join(chunk.text for chunk in streamed) == (
            "models/gemini-1.5-flash received: Stream it"
        )

        def set_volume(level: int) -> str:
            """Set the speaker volume."""
            return "ok"

        with_tools = legacy.GenerativeModel(
            "gemini-1.5-pro", tools=[set_volume], tool_config={"function_calling_config": "ANY"}
        )
        part = with_tools.generate_content("Turn it up").candidates[0].content.parts[0]
        assert part.function_call.name == "set_volume"
        assert isinstance(part.function_call.args["level"], float | int)
        coder = legacy.GenerativeModel("gemini-1.5-flash", tools="code_execution")
        parts = coder.generate_content("What is 2+2?").candidates[0].content.parts
        assert parts[0].executable_code.code == "print('What is 2+2?')"
        assert parts[1].code_execution_result.output == "What is 2+2?\n"
