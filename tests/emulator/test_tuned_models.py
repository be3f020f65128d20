"""tunedModels create/get/list/patch/delete: exact bodies and status codes, in process."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.emulator.conftest import BASE, FakeClock, MakeClient, create_body

INT_ENUMS = "%24alt=json%3Benum-encoding%3Dint"


def error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def test_create_returns_the_operation_and_lists_the_model_at_once(client: TestClient) -> None:
    r = client.post(
        "/v1beta/tunedModels?tunedModelId=inc", json=create_body(examples=15, epochs=5, batch=2)
    )
    assert r.status_code == 200
    op = r.json()
    assert op["name"].startswith("tunedModels/inc/operations/")
    assert len(op["name"].rsplit("/", 1)[1]) == 12
    assert op["metadata"] == {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.CreateTunedModelMetadata",
        "totalSteps": 38,  # ceil(15 * 5 / 2), as the real service reported
        "tunedModel": "tunedModels/inc",
    }
    assert "done" not in op
    listed = client.get("/v1beta/tunedModels").json()["tunedModels"]
    assert [m["name"] for m in listed] == ["tunedModels/inc"]
    assert listed[0]["state"] == "CREATING"


def test_get_fills_service_defaults_and_never_returns_training_data(client: TestClient) -> None:
    body = create_body(displayName="Increment")
    del body["tuningTask"]["hyperparameters"]
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=body)
    model = client.get("/v1beta/tunedModels/inc").json()
    assert model == {
        "name": "tunedModels/inc",
        "baseModel": BASE,
        "displayName": "Increment",
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "state": "CREATING",
        "createTime": "2023-11-14T22:13:20.000000Z",
        "updateTime": "2023-11-14T22:13:20.000000Z",
        "tuningTask": {
            "startTime": "2023-11-14T22:13:20.000000Z",
            "hyperparameters": {"epochCount": 5, "batchSize": 4, "learningRate": 0.001},
        },
    }


def test_snake_case_request_and_generated_id_from_display_name(client: TestClient) -> None:
    body = {
        "display_name": "Number generator model!",
        "base_model": BASE,
        "tuning_task": {
            "training_data": {"examples": {"examples": [{"text_input": "1", "output": "2"}]}},
            "hyperparameters": {"learning_rate_multiplier": 2.0},
        },
    }
    op = client.post("/v1beta/tunedModels", json=body).json()
    name = op["metadata"]["tunedModel"]
    prefix, suffix = name.rsplit("-", 1)
    assert prefix == "tunedModels/number-generator-model"
    assert len(suffix) == 12 and suffix.isalnum() and suffix.islower()
    hp = client.get(f"/v1beta/{name}").json()["tuningTask"]["hyperparameters"]
    assert hp == {"epochCount": 5, "batchSize": 4, "learningRateMultiplier": 2.0}


@pytest.mark.parametrize(
    ("query", "body", "code", "status", "message"),
    [
        (
            "",
            create_body(),
            400,
            "INVALID_ARGUMENT",
            "Either tuned_model_id or display_name must be set.",
        ),
        (
            "?tunedModelId=x",
            create_body(baseModel="models/gemini-1.5-flash-001"),
            404,
            "NOT_FOUND",
            "models/gemini-1.5-flash-001 is not found for CREATE TUNED MODEL at API version v1beta.",
        ),
        (
            "?tunedModelId=x",
            create_body(baseModel="models/nope"),
            404,
            "NOT_FOUND",
            "models/nope is not found for CREATE TUNED MODEL at API version v1beta.",
        ),
        (
            "?tunedModelId=x",
            create_body(displayName="x" * 41),
            400,
            "INVALID_ARGUMENT",
            "The display name must be up to 40 characters including spaces.",
        ),
        (
            "?tunedModelId=x",
            create_body(temperature=1.5),
            400,
            "INVALID_ARGUMENT",
            "temperature must be in [0, 1], got 1.5.",
        ),
        (
            "?tunedModelId=x",
            create_body(topP=-0.1),
            400,
            "INVALID_ARGUMENT",
            "top_p must be in [0, 1], got -0.1.",
        ),
        (
            "?tunedModelId=x",
            create_body(topK=-1),
            400,
            "INVALID_ARGUMENT",
            "top_k must be >= 0, got -1.",
        ),
        (
            "?tunedModelId=x",
            create_body(examples=0),
            400,
            "INVALID_ARGUMENT",
            "tuning_task.training_data.examples must not be empty.",
        ),
        (
            "?tunedModelId=x",
            create_body(tunedModelSource={"tunedModel": "tunedModels/missing"}, baseModel=None),
            404,
            "NOT_FOUND",
            "Tuned model tunedModels/missing does not exist.",
        ),
    ],
)
def test_create_rejections(
    client: TestClient, query: str, body: dict[str, Any], code: int, status: str, message: str
) -> None:
    r = client.post(f"/v1beta/tunedModels{query}", json=body)
    assert (r.status_code, r.json()) == (code, error(code, status, message))
    assert client.get("/v1beta/tunedModels").json() == {}


@pytest.mark.parametrize("bad_id", ["Upper", "1abc", "ends-", "a" * 41, "under_score"])
def test_create_rejects_bad_ids(client: TestClient, bad_id: str) -> None:
    r = client.post(f"/v1beta/tunedModels?tunedModelId={bad_id}", json=create_body())
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith(f"Invalid tuned_model_id '{bad_id}'")


def test_create_rejects_bad_hyperparameters_and_examples(client: TestClient) -> None:
    both = create_body()
    both["tuningTask"]["hyperparameters"]["learningRateMultiplier"] = 1.0
    zero = create_body(epochs=0)
    image = create_body()
    image["tuningTask"]["trainingData"]["examples"]["examples"].append({"output": "x"})
    long_output = create_body()
    long_output["tuningTask"]["trainingData"]["examples"]["examples"][0]["output"] = "y" * 5001
    messages = [
        client.post("/v1beta/tunedModels?tunedModelId=x", json=b).json()["error"]["message"]
        for b in (both, zero, image, long_output)
    ]
    assert messages == [
        "Only one of learning_rate and learning_rate_multiplier may be set.",
        "hyperparameters.epoch_count must be >= 1, got 0.",
        "tuning_task.training_data.examples.examples[4]: every example must have a text_input (text examples only).",
        "tuning_task.training_data.examples.examples[0].output is longer than 5000 characters.",
    ]


def test_duplicate_id_conflicts_and_keeps_the_first(client: TestClient) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body(displayName="first"))
    r = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body(displayName="second"))
    assert (r.status_code, r.json()) == (
        409,
        error(409, "ALREADY_EXISTS", "Tuned model tunedModels/inc already exists."),
    )
    assert client.get("/v1beta/tunedModels/inc").json()["displayName"] == "first"
    assert client.get("/emulator/stats").json()["creates"] == {"inc": 1}


def test_tuned_model_source_reports_the_base_inside_the_source(
    client: TestClient, clock: FakeClock
) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=parent", json=create_body())
    body = create_body(tunedModelSource={"tunedModel": "tunedModels/parent"})
    del body["baseModel"]
    early = client.post("/v1beta/tunedModels?tunedModelId=child", json=body)
    assert early.status_code == 400
    assert early.json()["error"]["status"] == "FAILED_PRECONDITION"
    clock.advance(100)
    assert client.post("/v1beta/tunedModels?tunedModelId=child", json=body).status_code == 200
    child = client.get("/v1beta/tunedModels/child").json()
    assert child["tunedModelSource"] == {"tunedModel": "tunedModels/parent", "baseModel": BASE}
    assert "baseModel" not in child


def test_list_pages_with_tokens_bound_to_the_query(client: TestClient) -> None:
    for i in range(5):
        client.post(
            f"/v1beta/tunedModels?tunedModelId=m{i}", json=create_body(displayName=f"Model {i}")
        )
    first = client.get("/v1beta/tunedModels?pageSize=2").json()
    assert [m["name"] for m in first["tunedModels"]] == ["tunedModels/m0", "tunedModels/m1"]
    token = first["nextPageToken"]
    second = client.get(f"/v1beta/tunedModels?pageSize=2&pageToken={token}").json()
    assert [m["name"] for m in second["tunedModels"]] == ["tunedModels/m2", "tunedModels/m3"]
    last = client.get(f"/v1beta/tunedModels?pageSize=2&pageToken={second['nextPageToken']}").json()
    assert [m["name"] for m in last["tunedModels"]] == ["tunedModels/m4"]
    assert "nextPageToken" not in last
    r = client.get(f"/v1beta/tunedModels?pageSize=3&pageToken={token}")
    assert r.status_code == 400
    assert (
        r.json()["error"]["message"]
        == "The page token does not match the request (filter or page size changed)."
    )
    assert client.get("/v1beta/tunedModels?pageToken=garbage!").status_code == 400
    assert len(client.get("/v1beta/tunedModels?pageSize=5000").json()["tunedModels"]) == 5
    assert len(client.get("/v1beta/tunedModels").json()["tunedModels"]) == 5


def test_list_default_page_size_is_ten(client: TestClient) -> None:
    for i in range(12):
        client.post(f"/v1beta/tunedModels?tunedModelId=m{i}", json=create_body())
    page = client.get("/v1beta/tunedModels").json()
    assert len(page["tunedModels"]) == 10 and "nextPageToken" in page


def test_list_filter_is_case_insensitive_full_text(client: TestClient) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=a", json=create_body(displayName="Sentiment EN"))
    client.post(
        "/v1beta/tunedModels?tunedModelId=b", json=create_body(description="sentiment, german")
    )
    client.post("/v1beta/tunedModels?tunedModelId=c", json=create_body(displayName="Other"))

    def names(flt: str) -> list[str]:
        return [
            m["name"]
            for m in client.get("/v1beta/tunedModels", params={"filter": flt})
            .json()
            .get("tunedModels", [])
        ]

    assert names("SENTIMENT") == ["tunedModels/a", "tunedModels/b"]
    assert names("sentiment german") == ["tunedModels/b"]
    assert names("owner:me") == ["tunedModels/a", "tunedModels/b", "tunedModels/c"]
    assert names("readers:everyone") == []


def test_int_enums_on_request(client: TestClient) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    assert client.get(f"/v1beta/tunedModels/inc?{INT_ENUMS}").json()["state"] == 1
    assert client.get(f"/v1beta/tunedModels?{INT_ENUMS}").json()["tunedModels"][0]["state"] == 1
    assert client.get("/v1beta/tunedModels/inc").json()["state"] == "CREATING"


def test_patch_with_mask_applies_only_masked_paths(client: TestClient, clock: FakeClock) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body(displayName="Old"))
    clock.advance(100)
    whole = client.get(f"/v1beta/tunedModels/inc?{INT_ENUMS}").json()
    # google-generativeai sends the whole object back, output-only fields included.
    sent = {**whole, "description": "new", "displayName": "ignored", "baseModel": "models/other"}
    del sent["name"]
    r = client.patch(f"/v1beta/tunedModels/inc?updateMask=description&{INT_ENUMS}", json=sent)
    assert r.status_code == 200
    model = r.json()
    assert (model["description"], model["displayName"], model["baseModel"]) == ("new", "Old", BASE)
    assert model["updateTime"] == "2023-11-14T22:15:00.000000Z"
    assert client.get("/v1beta/tunedModels/inc").json()["description"] == "new"


def test_patch_without_mask_applies_populated_fields(client: TestClient) -> None:
    client.post(
        "/v1beta/tunedModels?tunedModelId=inc",
        json=create_body(displayName="Old", description="keep"),
    )
    model = client.patch(
        "/v1beta/tunedModels/inc", json={"display_name": "New", "top_k": 10}
    ).json()
    assert (model["displayName"], model["description"], model["topK"]) == ("New", "keep", 10)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ("baseModel", "Field baseModel is immutable and cannot be updated."),
        (
            "tuning_task.hyperparameters.batch_size",
            "Field tuningTask.hyperparameters.batchSize is immutable and cannot be updated.",
        ),
        ("state", "Field state is output only and cannot be updated."),
        ("colour", "Invalid update mask path: colour."),
    ],
)
def test_patch_rejects_paths_that_cannot_change(
    client: TestClient, mask: str, message: str
) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    r = client.patch(f"/v1beta/tunedModels/inc?updateMask={mask}", json={})
    assert (r.status_code, r.json()) == (400, error(400, "INVALID_ARGUMENT", message))


def test_delete_while_creating_then_everything_is_404(client: TestClient) -> None:
    op = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()
    r = client.delete("/v1beta/tunedModels/inc")
    assert (r.status_code, r.json()) == (200, {})
    missing = error(404, "NOT_FOUND", "Tuned model tunedModels/inc does not exist.")
    for response in (
        client.get("/v1beta/tunedModels/inc"),
        client.delete("/v1beta/tunedModels/inc"),
        client.patch("/v1beta/tunedModels/inc", json={"description": "x"}),
    ):
        assert (response.status_code, response.json()) == (404, missing)
    assert client.get(f"/v1beta/{op['name']}").status_code == 404
    assert client.get("/v1beta/tunedModels").json() == {}


def test_unmatched_paths_and_methods_are_json_404(client: TestClient) -> None:
    for method, path in (
        ("GET", "/v1beta/nothing"),
        ("PUT", "/v1beta/tunedModels/x"),
        ("GET", "/v1/tunedModels"),
    ):
        r = client.request(method, path)
        assert r.status_code == 404
        assert r.json()["error"]["status"] == "NOT_FOUND"


def test_invalid_json_body(client: TestClient) -> None:
    r = client.post(
        "/v1beta/tunedModels?tunedModelId=x",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("Invalid JSON payload received.")


def test_models_catalog(make_client: MakeClient) -> None:
    client = make_client()
    names = [m["name"] for m in client.get("/v1beta/models").json()["models"]]
    assert BASE in names and "models/gemini-1.5-flash-001" in names
    base = client.get(f"/v1beta/{BASE}").json()
    assert base["supportedGenerationMethods"] == [
        "generateContent",
        "countTokens",
        "createTunedModel",
    ]
    assert (base["inputTokenLimit"], base["outputTokenLimit"], base["maxTemperature"]) == (
        16384,
        8192,
        2.0,
    )
    assert client.get("/v1beta/models/nope").status_code == 404
