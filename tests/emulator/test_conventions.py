"""Transport conventions on every Gemini API route: ``?key=``, ``$alt`` int enums, /v1, snake_case.

The cases are keyed by the route table, so a route added without a case here
fails ``test_every_route_has_a_case`` (the Vertex AI and Cloud Storage routes
have theirs in tests/emulator/cloud/).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from reconciler.emulator.routes import GEMINI_ROUTES
from tests.emulator.conftest import BASE, FakeClock, MakeClient, create_body
from tests.emulator.openapi import validate

KEY = "secret-key"
ENCODED_ALT = "%24alt=json%3Benum-encoding%3Dint"
GENERATE = {"contents": [{"parts": [{"text": "input 1"}]}]}
READER = {"granteeType": 1, "emailAddress": "a@b.c", "role": 3}

# route template (as counted in /emulator/stats) -> (JSON body or None, response schema)
CASES: dict[str, tuple[dict[str, Any] | None, str]] = {
    "GET /v1beta/tunedModels": (None, "ListTunedModelsResponse"),
    "POST /v1beta/tunedModels": (create_body(displayName="Other"), "Operation"),
    "GET /v1beta/tunedModels/{id}": (None, "TunedModel"),
    "PATCH /v1beta/tunedModels/{id}": ({"description": "d"}, "TunedModel"),
    "DELETE /v1beta/tunedModels/{id}": (None, "Empty"),
    "POST /v1beta/tunedModels/{id}/permissions": (
        {**READER, "emailAddress": "x@y.z"},
        "Permission",
    ),
    "GET /v1beta/tunedModels/{id}/permissions": (None, "ListPermissionsResponse"),
    "GET /v1beta/tunedModels/{id}/permissions/{perm}": (None, "Permission"),
    "PATCH /v1beta/tunedModels/{id}/permissions/{perm}": ({"role": 2}, "Permission"),
    "DELETE /v1beta/tunedModels/{id}/permissions/{perm}": (None, "Empty"),
    "POST /v1beta/tunedModels/{id}:transferOwnership": (
        {"emailAddress": "b@c.d"},
        "TransferOwnershipResponse",
    ),
    **{
        f"{method} /{version}{template}": case
        for version in ("v1beta", "v1")
        for method, template, case in [
            ("GET", "/tunedModels/{id}/operations", (None, "ListOperationsResponse")),
            ("GET", "/tunedModels/{id}/operations/{op}", (None, "Operation")),
            ("POST", "/tunedModels/{id}/operations/{op}:cancel", ({}, "Empty")),
            ("POST", "/tunedModels/{id}:generateContent", (GENERATE, "GenerateContentResponse")),
            ("POST", "/tunedModels/{id}:streamGenerateContent", (GENERATE, "Chunks")),
            ("POST", "/tunedModels/{id}:countTokens", (GENERATE, "CountTokensResponse")),
            ("GET", "/models", (None, "ListModelsResponse")),
            ("GET", "/models/{model}", (None, "Model")),
            ("POST", "/models/{model}:generateContent", (GENERATE, "GenerateContentResponse")),
            ("POST", "/models/{model}:streamGenerateContent", (GENERATE, "Chunks")),
            ("POST", "/models/{model}:countTokens", (GENERATE, "CountTokensResponse")),
        ]
    },
}

# Query parameters a route needs besides the key and $alt.
EXTRA_QUERY = {"PATCH /v1beta/tunedModels/{id}/permissions/{perm}": "&updateMask=role"}

# Responses that carry an enum, and where (must be a number under $alt int encoding).
ENUM_AT: dict[str, Any] = {
    "TunedModel": lambda b: b["state"],
    "ListTunedModelsResponse": lambda b: b["tunedModels"][0]["state"],
    "Permission": lambda b: b["role"],
    "ListPermissionsResponse": lambda b: b["permissions"][0]["granteeType"],
    "GenerateContentResponse": lambda b: b["candidates"][0]["finishReason"],
    "Chunks": lambda b: b[-1]["candidates"][0]["finishReason"],
    "CountTokensResponse": lambda b: b["promptTokensDetails"][0]["modality"],
}


def test_every_route_has_a_case() -> None:
    assert {route.template for route in GEMINI_ROUTES} == set(CASES)


def _ready(make_client: MakeClient, clock: FakeClock) -> tuple[TestClient, dict[str, str]]:
    """A finished model ``inc`` with a reader permission; path values for every route."""
    client = make_client(api_key=KEY)
    headers = {"x-goog-api-key": KEY}
    op = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body(), headers=headers)
    clock.advance(100)
    reader = client.post("/v1beta/tunedModels/inc/permissions", json=READER, headers=headers)
    values = {
        "id": "inc",
        "op": op.json()["name"].rsplit("/", 1)[1],
        "perm": reader.json()["name"].rsplit("/", 1)[1],
        "model": BASE.removeprefix("models/"),
    }
    return client, values


def ready_route(
    make_client: MakeClient, clock: FakeClock, template: str
) -> tuple[TestClient, str, str]:
    """``_ready``, and the route ``template`` ("GET /v1beta/...{id}") as (method, path)."""
    client, values = _ready(make_client, clock)
    method, path = template.split(" ", 1)
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return client, method, path


@pytest.mark.parametrize("alt", [ENCODED_ALT, "$alt=json;enum-encoding=int", None])
@pytest.mark.parametrize("template", sorted(CASES))
def test_key_in_the_query_and_enum_encoding_on_every_route(
    make_client: MakeClient, clock: FakeClock, template: str, alt: str | None
) -> None:
    client, method, path = ready_route(make_client, clock, template)
    body, schema = CASES[template]
    query = f"key={KEY}" + (f"&{alt}" if alt else "") + EXTRA_QUERY.get(template, "")
    counts = client.app.state.emulator.stats.requests  # type: ignore[attr-defined]
    before = counts[template]
    r = client.request(method, f"{path}?{query}", json=body)
    assert r.status_code == 200, r.text
    assert counts[template] == before + 1
    int_enums = alt is not None
    for item in r.json() if schema == "Chunks" else [r.json()]:
        validate(
            item, "GenerateContentResponse" if schema == "Chunks" else schema, int_enums=int_enums
        )
    if ENUM_AT.get(schema):
        value = ENUM_AT[schema](r.json())
        assert isinstance(value, int) if int_enums else isinstance(value, str), value


def test_a_wrong_key_in_the_query_is_refused(make_client: MakeClient) -> None:
    client = make_client(api_key=KEY)
    r = client.get("/v1/tunedModels/x/operations/y?key=nope")
    assert (r.status_code, r.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")


def test_only_generate_operations_and_models_are_served_under_v1(client: TestClient) -> None:
    """/v1 has no tuned-model CRUD or permissions: those answer 404 there."""
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    for method, path in [
        ("GET", "/v1/tunedModels"),
        ("GET", "/v1/tunedModels/inc"),
        ("POST", "/v1/tunedModels"),
        ("GET", "/v1/tunedModels/inc/permissions"),
        ("POST", "/v1/tunedModels/inc:transferOwnership"),
    ]:
        r = client.request(method, path, json={})
        assert r.status_code == 404, path
        assert (
            r.json()["error"]["message"]
            == f"The requested URL {path} was not found on this server."
        )
    missing = client.get("/v1/models/nope").json()["error"]["message"]
    assert missing == "Model models/nope is not found for API version v1."


def test_snake_case_fields_on_every_create_and_patch_field(
    client: TestClient, clock: FakeClock
) -> None:
    body = {
        "display_name": "Parent",
        "description": "first",
        "base_model": BASE,
        "temperature": 0.5,
        "top_p": 0.5,
        "top_k": 5,
        "reader_project_numbers": ["123"],
        "tuning_task": {
            "training_data": {"examples": {"examples": [{"text_input": "1", "output": "2"}]}},
            "hyperparameters": {"epoch_count": 2, "batch_size": 1, "learning_rate": 0.01},
        },
    }
    assert client.post("/v1beta/tunedModels?tuned_model_id=parent", json=body).is_success
    clock.advance(100)
    parent = client.get("/v1beta/tunedModels/parent").json()
    assert {k: parent[k] for k in ("displayName", "description", "temperature", "topP", "topK")} == {
        "displayName": "Parent", "description": "first", "temperature": 0.5, "topP": 0.5, "topK": 5,
    }  # fmt: skip
    assert parent["readerProjectNumbers"] == ["123"]
    assert parent["tuningTask"]["hyperparameters"] == {
        "epochCount": 2,
        "batchSize": 1,
        "learningRate": 0.01,
    }
    child = {
        "display_name": "Child",
        "tuned_model_source": {"tuned_model": "tunedModels/parent"},
        "tuning_task": {
            "training_data": {"examples": {"examples": [{"text_input": "1", "output": "2"}]}},
            "hyperparameters": {"learning_rate_multiplier": 2.0},
        },
    }
    op = client.post("/v1beta/tunedModels?tuned_model_id=child", json=child).json()
    assert op["metadata"]["tunedModel"] == "tunedModels/child"
    got = client.get("/v1beta/tunedModels/child").json()
    assert got["tunedModelSource"] == {"tunedModel": "tunedModels/parent", "baseModel": BASE}
    assert got["tuningTask"]["hyperparameters"]["learningRateMultiplier"] == 2.0
    patch = {
        "display_name": "P2",
        "description": "second",
        "temperature": 0.25,
        "top_p": 0.75,
        "top_k": 7,
        "reader_project_numbers": ["456"],
    }
    mask = "display_name,description,temperature,top_p,top_k,reader_project_numbers"
    patched = client.patch(f"/v1beta/tunedModels/parent?update_mask={mask}", json=patch).json()
    assert {k: patched[k] for k in ("displayName", "description", "temperature", "topP", "topK")} == {
        "displayName": "P2", "description": "second", "temperature": 0.25, "topP": 0.75, "topK": 7,
    }  # fmt: skip
    assert patched["readerProjectNumbers"] == ["456"]


def test_snake_case_page_parameters(client: TestClient) -> None:
    for model_id in ("a", "b"):
        client.post(f"/v1beta/tunedModels?tunedModelId={model_id}", json=create_body())
    first = client.get("/v1beta/tunedModels?page_size=1").json()
    assert [m["name"] for m in first["tunedModels"]] == ["tunedModels/a"]
    token = first["nextPageToken"]
    second = client.get(f"/v1beta/tunedModels?page_size=1&page_token={token}").json()
    assert [m["name"] for m in second["tunedModels"]] == ["tunedModels/b"]


def test_another_route_table_is_served_through_the_same_gateway() -> None:
    """The seam a second API surface (Vertex AI tuningJobs, say) plugs into."""
    from starlette.responses import JSONResponse

    from reconciler.emulator import EmulatorConfig, create_app
    from reconciler.emulator.routes import ROUTES, route

    extra = route("GET", "/v1/projects/{id}/tuningJobs", lambda call: JSONResponse({"id": call.params["id"]}))  # fmt: skip
    app = create_app(EmulatorConfig(api_key=KEY, seed=1), routes=[*ROUTES, extra])
    with TestClient(app) as client:
        assert client.get("/v1/projects/p1/tuningJobs").status_code == 403  # the key is checked
        served = client.get(f"/v1/projects/p1/tuningJobs?key={KEY}")
        assert served.json() == {"id": "p1"}
        assert client.get("/v1beta/tunedModels", headers={"x-goog-api-key": KEY}).is_success
        stats = client.get("/emulator/stats").json()["requests"]
        assert stats["GET /v1/projects/{id}/tuningJobs"] == 2
