"""Partial responses: ``fields``, ``$fields`` and ``X-Goog-FieldMask`` on every JSON answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from reconciler.emulator.partial_response import parse
from tests.emulator.conftest import FakeClock, MakeClient, create_body
from tests.emulator.openapi import validate
from tests.emulator.test_conventions import CASES, EXTRA_QUERY, KEY, ready_route

INT_ENUMS = "%24alt=json%3Benum-encoding%3Dint"
TUNED_MODEL_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.TunedModel"
NESTED = "tunedModels(name,tuningTask(hyperparameters,startTime))"


def _three_models(client: TestClient, clock: FakeClock) -> list[dict[str, Any]]:
    """Three finished models with four snapshots each; returns the full list."""
    for model_id in ("a", "b", "c"):
        client.post(f"/v1beta/tunedModels?tunedModelId={model_id}", json=create_body())
    clock.advance(100)
    models: list[dict[str, Any]] = client.get("/v1beta/tunedModels").json()["tunedModels"]
    assert [len(m["tuningTask"]["snapshots"]) for m in models] == [4, 4, 4]
    return models


def _nested(models: list[dict[str, Any]]) -> dict[str, Any]:
    """What NESTED selects, written out by hand."""
    return {
        "tunedModels": [
            {
                "name": m["name"],
                "tuningTask": {
                    "startTime": m["tuningTask"]["startTime"],
                    "hyperparameters": m["tuningTask"]["hyperparameters"],
                },
            }
            for m in models
        ]
    }


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        (f"fields={quote(NESTED)}", {}),
        (f"fields={NESTED}", {}),
        (f"$fields={NESTED}", {}),
        (f"%24fields={quote(NESTED)}", {}),
        ("", {"X-Goog-FieldMask": NESTED}),
        ("", {"x-goog-fieldmask": NESTED}),
        ("fields=tuned_models(name,tuning_task(hyperparameters,start_time))", {}),
        ("fields=tunedModels/name,tunedModels/tuningTask(hyperparameters,startTime)", {}),
        (
            "fields=tunedModels.name,tunedModels.tuningTask.hyperparameters,tunedModels.tuningTask.startTime",
            {},
        ),
        (f"fields={quote('tunedModels( name , tuningTask(hyperparameters, startTime) )')}", {}),
    ],
    ids=[
        "fields",
        "fields-unencoded",
        "dollar-fields",
        "dollar-fields-encoded",
        "header",
        "header-lower-case",
        "snake-case",
        "slash-paths",
        "dot-paths",
        "spaces",
    ],
)
def test_a_list_holds_exactly_the_selected_fields_of_each_model(
    client: TestClient, clock: FakeClock, query: str, headers: dict[str, str]
) -> None:
    models = _three_models(client, clock)
    r = client.get(f"/v1beta/tunedModels?{query}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == _nested(models)


def test_a_selection_reaches_into_every_element_of_an_array(
    client: TestClient, clock: FakeClock
) -> None:
    _three_models(client, clock)
    steps = client.get("/v1beta/tunedModels?fields=tunedModels/tuningTask/snapshots/step").json()
    snapshots = {"snapshots": [{"step": 1}, {"step": 2}, {"step": 3}, {"step": 4}]}
    assert steps == {"tunedModels": [{"tuningTask": snapshots}] * 3}


def test_star_selects_every_field_at_its_level(client: TestClient, clock: FakeClock) -> None:
    models = _three_models(client, clock)
    full = client.get("/v1beta/tunedModels?pageSize=2").json()
    assert client.get("/v1beta/tunedModels?pageSize=2&fields=*").json() == full
    assert client.get("/v1beta/tunedModels?pageSize=2&fields=tunedModels/*").json() == {
        "tunedModels": models[:2]
    }
    tasks = client.get("/v1beta/tunedModels?fields=tunedModels(name,tuningTask/*)").json()
    assert tasks == {
        "tunedModels": [{"name": m["name"], "tuningTask": m["tuningTask"]} for m in models]
    }


def test_next_page_token_is_there_only_when_selected(client: TestClient, clock: FakeClock) -> None:
    _three_models(client, clock)
    without = client.get("/v1beta/tunedModels?pageSize=2&fields=tunedModels/name").json()
    assert without == {"tunedModels": [{"name": "tunedModels/a"}, {"name": "tunedModels/b"}]}
    first = client.get(
        "/v1beta/tunedModels?pageSize=2&fields=tunedModels/name,nextPageToken"
    ).json()
    assert first["tunedModels"] == without["tunedModels"]
    token = first["nextPageToken"]
    assert client.get("/v1beta/tunedModels?pageSize=2&fields=nextPageToken").json() == {
        "nextPageToken": token
    }
    last = client.get(
        f"/v1beta/tunedModels?pageSize=2&pageToken={token}&fields=tunedModels/name,nextPageToken"
    ).json()
    assert last == {"tunedModels": [{"name": "tunedModels/c"}]}


def test_get_selects_fields_and_an_absent_field_is_no_error(client: TestClient) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    # CREATING: no description, no completeTime yet; the selected tuningTask stays.
    r = client.get(
        "/v1beta/tunedModels/inc?fields=name,description,noSuchField,tuningTask/completeTime"
    )
    assert (r.status_code, r.json()) == (200, {"name": "tunedModels/inc", "tuningTask": {}})
    assert client.get("/v1beta/tunedModels/inc?fields=displayName").json() == {}
    # Sub-fields of a scalar select nothing.
    assert client.get("/v1beta/tunedModels/inc?fields=name/first").json() == {}


def test_an_operation_keeps_the_type_of_a_selected_any(
    client: TestClient, clock: FakeClock
) -> None:
    op = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()
    clock.advance(100)
    selector = "name,done,response(state)"
    for version in ("v1beta", "v1"):
        r = client.get(f"/{version}/{op['name']}?fields={selector}&{INT_ENUMS}")
        assert r.json() == {
            "name": op["name"],
            "done": True,
            "response": {"@type": TUNED_MODEL_TYPE, "state": 2},
        }
    listed = client.get("/v1beta/tunedModels/inc/operations?fields=operations/metadata/totalSteps")
    metadata = listed.json()["operations"][0]["metadata"]
    assert set(metadata) == {"@type", "totalSteps"} and metadata["totalSteps"] == 4


def test_without_a_selector_the_answer_is_whole(client: TestClient, clock: FakeClock) -> None:
    models = _three_models(client, clock)
    full = {"tunedModels": models}
    assert client.get("/v1beta/tunedModels?fields=").json() == full
    assert client.get("/v1beta/tunedModels", headers={"X-Goog-FieldMask": ""}).json() == full
    assert client.get("/v1beta/tunedModels/a?fields=%20").json() == models[0]


def test_the_query_parameter_wins_over_the_header(client: TestClient) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    r = client.get("/v1beta/tunedModels/inc?fields=name", headers={"X-Goog-FieldMask": "state"})
    assert r.json() == {"name": "tunedModels/inc"}


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        ("tunedModels(name", "unbalanced parentheses"),
        ("tunedModels(name))", "unbalanced parentheses"),
        ("name)", "unbalanced parentheses"),
        ("name,,state", "empty field name at position 5"),
        ("tunedModels()", "empty field name at position 12"),
        ("tunedModels//name", "empty field name at position 12"),
        ("name,", "empty field name at position 5"),
        ("name state", "unexpected 's' at position 5"),
        ("display-name", "unexpected '-' at position 7"),
    ],
)
def test_a_malformed_selector_is_invalid_argument(
    client: TestClient, selector: str, reason: str
) -> None:
    for url, headers in [
        (f"/v1beta/tunedModels?fields={quote(selector)}", {}),
        (f"/v1beta/tunedModels?%24fields={quote(selector)}", {}),
        ("/v1beta/tunedModels", {"X-Goog-FieldMask": selector}),
    ]:
        r = client.get(url, headers=headers)
        assert (r.status_code, r.json()) == (
            400,
            {
                "error": {
                    "code": 400,
                    "message": f"Invalid field selection {selector!r}: {reason}.",
                    "status": "INVALID_ARGUMENT",
                }
            },
        )


def test_a_malformed_selector_on_a_create_creates_nothing(client: TestClient) -> None:
    r = client.post("/v1beta/tunedModels?tunedModelId=inc&fields=name(", json=create_body())
    assert r.status_code == 400
    assert client.get("/v1beta/tunedModels/inc").status_code == 404


def test_error_answers_are_not_filtered(client: TestClient) -> None:
    r = client.get("/v1beta/tunedModels/gone?fields=error/code")
    assert r.json() == {
        "error": {
            "code": 404,
            "message": "Tuned model tunedModels/gone does not exist.",
            "status": "NOT_FOUND",
        }
    }


# schema -> (selector, the shape of the answer: keys, with [...] for the shape of each element)
PARTIAL: dict[str, tuple[str, Any]] = {
    "ListTunedModelsResponse": ("tunedModels/name", {"tunedModels": [{"name": None}]}),
    "Operation": ("name", {"name": None}),
    "TunedModel": ("name,state", {"name": None, "state": None}),
    "Empty": ("name", {}),
    "Permission": ("role", {"role": None}),
    "ListPermissionsResponse": ("permissions/role", {"permissions": [{"role": None}]}),
    "TransferOwnershipResponse": ("name", {}),
    "ListOperationsResponse": ("operations/name", {"operations": [{"name": None}]}),
    "GenerateContentResponse": (
        "usageMetadata/totalTokenCount",
        {"usageMetadata": {"totalTokenCount": None}},
    ),
    "ListModelsResponse": ("models/name", {"models": [{"name": None}]}),
    "Model": ("name", {"name": None}),
    "CountTokensResponse": ("totalTokens", {"totalTokens": None}),
}


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if _shape(item) not in shapes:
                shapes.append(_shape(item))
        return shapes
    return None


@pytest.mark.parametrize("template", sorted(CASES))
def test_every_json_route_answers_with_the_selected_fields(
    make_client: MakeClient, clock: FakeClock, template: str
) -> None:
    client, method, path = ready_route(make_client, clock, template)
    body, schema = CASES[template]
    selector, shape = PARTIAL.get(schema, ("usageMetadata", None))
    query = f"key={KEY}&fields={quote(selector)}" + EXTRA_QUERY.get(template, "")
    r = client.request(method, f"{path}?{query}", json=body)
    assert r.status_code == 200, r.text
    if schema == "Chunks":
        # Streamed answers are sent whole: each chunk is a full GenerateContentResponse.
        assert [set(chunk) >= {"candidates"} for chunk in r.json()] == [True, True]
        return
    assert _shape(r.json()) == shape
    validate(r.json(), schema, partial=True)


def test_parsing_merges_and_reaches() -> None:
    mask = parse("tunedModels(name,tuningTask(hyperparameters,startTime)),tunedModels/state")
    assert mask.tree == {
        "tunedModels": {
            "name": None,
            "tuningTask": {"hyperparameters": None, "startTime": None},
            "state": None,
        }
    }
    assert mask.reaches("tunedModels", "tuningTask", "startTime")
    assert mask.reaches("tunedModels", "tuningTask", "hyperparameters", "epochCount")
    assert not mask.reaches("tunedModels", "tuningTask", "snapshots")
    assert not mask.reaches("nextPageToken")
    assert parse("a,a/b").tree == {"a": None}  # the whole field wins
    assert parse("*").reaches("tunedModels", "tuningTask", "snapshots")
    assert parse("tunedModels/*/snapshots").reaches("tunedModels", "tuningTask", "snapshots")
    assert parse("@type,next_page_token").tree == {"@type": None, "nextPageToken": None}


@pytest.mark.parametrize(
    "selector",
    [
        NESTED,
        "tunedModels(name,tuningTask(hyperparameters,startTime)),nextPageToken",
        "nextPageToken",
        "nextPageToken/x,tunedModels/name/x",
        "tunedModels/tuningTask/snapshots(step,meanLoss)",
        "*",
        "*/*/tuningTask(*)",
        "tunedModels(*,tuningTask/completeTime),nextPageToken",
        "tunedModels/@type",
        "noSuchField",
    ],
)
@pytest.mark.parametrize("alt", ["", f"&{INT_ENUMS}"], ids=["enum-names", "enum-int"])
def test_lists_and_gets_cut_the_same_way_as_any_other_answer(
    client: TestClient, clock: FakeClock, selector: str, alt: str
) -> None:
    """The tuned-model routes filter model by model (cached, snapshots skipped); same result."""
    _three_models(client, clock)
    client.post("/v1beta/tunedModels?tunedModelId=new", json=create_body())  # CREATING
    clock.advance(1)
    mask = parse(selector)
    for _ in range(2):  # the second time from the cache
        full = client.get(f"/v1beta/tunedModels?pageSize=3{alt}").json()
        cut = client.get(f"/v1beta/tunedModels?pageSize=3{alt}&fields={quote(selector)}").json()
        assert cut == mask.select(full)
        item = (
            selector.removeprefix("tunedModels/")
            if selector.startswith("tunedModels/")
            else selector
        )
        for model_id in ("a", "new"):
            whole = client.get(f"/v1beta/tunedModels/{model_id}?{alt}").json()
            part = client.get(f"/v1beta/tunedModels/{model_id}?fields={quote(item)}{alt}").json()
            assert part == parse(item).select(whole)
