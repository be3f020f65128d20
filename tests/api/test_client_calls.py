"""What the client sends and returns for each call, against a behaving fake API."""

from __future__ import annotations

import pytest

from reconciler.api.client import GeminiClient
from reconciler.errors import AlreadyExistsError, NotFoundError
from reconciler.live import CREATING
from reconciler.spec import AppliedSpec, DatasetRef, Example, Hyperparameters
from tests.api.conftest import API_KEY, FakeTime, make_client
from tests.api.fake_api import FakeGeminiApi, Fault

EXAMPLES = [Example(text_input="1", output="2"), Example(text_input="seven", output="eight")]
SPEC = AppliedSpec(
    baseModel="models/gemini-1.5-flash-001-tuning",
    displayName="Increment",
    description="Adds one",
    temperature=0.2,
    topK=40,
    readerProjectNumbers=("123456789012",),
    hyperparameters=Hyperparameters(epochCount=20, batchSize=4, learningRate=0.001),
    dataset=DatasetRef(name="increment-examples", hash="sha256:00", examples=2),
)


def test_listing_2500_models_takes_three_pages(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    for i in range(2500):
        fake_api.add_model(f"m{i:04d}", displayName=f"model {i}")

    models = list(client.list_tuned_models())

    assert len(models) == 2500
    assert models[0].name == "tunedModels/m0000" and models[0].display_name == "model 0"
    assert len({m.name for m in models}) == 2500
    assert client.request_count == 3
    assert [r.url.params.get("pageToken") for r in fake_api.requests] == [None, "1000", "2000"]
    assert {r.url.params["pageSize"] for r in fake_api.requests} == {"1000"}


def test_list_is_lazy_and_passes_the_filter(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    for i in range(30):
        fake_api.add_model(f"m{i}")
    models = client.list_tuned_models(filter="owner:me", page_size=10)
    first = next(models)
    assert first.name == "tunedModels/m0"
    assert client.request_count == 1
    assert fake_api.requests[0].url.params["filter"] == "owner:me"


def test_empty_list_is_an_empty_object(client: GeminiClient) -> None:
    assert list(client.list_tuned_models()) == []


def test_get_accepts_a_bare_id_and_reads_int_enums(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    fake_api.add_model(
        "x",
        state=1,
        topK="40",
        unknownField={"ignored": True},
        tuningTask={
            "hyperparameters": {"epochCount": 5, "batchSize": 4, "learningRate": 0.001},
            "snapshots": [{"step": 3, "epoch": 1, "meanLoss": 2.5, "computeTime": "t"}],
        },
    )
    model = client.get_tuned_model("x")
    assert model.state == CREATING
    assert model.top_k == 40
    assert model.hyperparameters == {"epochCount": 5, "batchSize": 4, "learningRate": 0.001}
    assert model.snapshots[-1].step == 3 and model.snapshots[-1].mean_loss == 2.5
    assert client.get_tuned_model("tunedModels/x") == model


def test_get_of_a_missing_model_is_not_found(client: GeminiClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_tuned_model("gone")
    assert str(info.value) == (
        "GET /v1beta/tunedModels/gone: 404 NOT_FOUND: Tuned model tunedModels/gone does not exist."
    )


def test_create_body_and_query(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    operation = client.create_tuned_model(model_id="increment", spec=SPEC, examples=EXAMPLES)

    request = fake_api.requests[-1]
    assert request.method == "POST"
    assert request.url.path == "/v1beta/tunedModels"
    assert dict(request.url.params) == {"tunedModelId": "increment"}
    assert request.body == {
        "baseModel": "models/gemini-1.5-flash-001-tuning",
        "displayName": "Increment",
        "description": "Adds one",
        "temperature": 0.2,
        "topK": 40,
        "readerProjectNumbers": ["123456789012"],
        "tuningTask": {
            "trainingData": {
                "examples": {
                    "examples": [
                        {"textInput": "1", "output": "2"},
                        {"textInput": "seven", "output": "eight"},
                    ]
                }
            },
            "hyperparameters": {"epochCount": 20, "batchSize": 4, "learningRate": 0.001},
        },
    }
    assert operation.model == "tunedModels/increment"
    assert operation.name.startswith("tunedModels/increment/operations/")
    assert operation.total_steps == 10 and not operation.done


def test_create_from_a_tuned_model_sends_the_source(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    spec = AppliedSpec(tunedModelSource="tunedModels/parent")
    client.create_tuned_model(model_id="child", spec=spec, examples=EXAMPLES)
    body = fake_api.requests[-1].body
    assert body is not None
    assert body["tunedModelSource"] == {"tunedModel": "tunedModels/parent"}
    assert "baseModel" not in body and "hyperparameters" not in body["tuningTask"]


def test_first_attempt_conflict_is_a_real_conflict(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    fake_api.add_model("increment")
    with pytest.raises(AlreadyExistsError) as info:
        client.create_tuned_model(model_id="increment", spec=SPEC, examples=EXAMPLES)
    assert info.value.after_retry is False
    assert info.value.code == 409


@pytest.mark.parametrize(
    "lost", [Fault(status=500, after_effect=True), Fault(status=0, after_effect=True)]
)
def test_create_whose_answer_was_lost_reports_conflict_after_retry(
    fake_api: FakeGeminiApi, client: GeminiClient, lost: Fault
) -> None:
    fake_api.fail_next(lost)
    with pytest.raises(AlreadyExistsError) as info:
        client.create_tuned_model(model_id="increment", spec=SPEC, examples=EXAMPLES)
    assert info.value.after_retry is True
    assert list(fake_api.models) == ["tunedModels/increment"]  # made once, not twice
    assert client.request_count == 2


def test_create_retried_after_a_clean_failure_succeeds(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    fake_api.fail_next(Fault(status=503), Fault(status=429, retry_after="1"))
    operation = client.create_tuned_model(model_id="increment", spec=SPEC, examples=EXAMPLES)
    assert operation.model == "tunedModels/increment"
    assert client.request_count == 3


def test_patch_sends_mask_and_exactly_the_masked_fields(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    fake_api.add_model("x", displayName="Old", description="old text", topK=10)
    spec = SPEC.model_copy(update={"displayName": "New", "description": None})

    model = client.update_tuned_model(
        "tunedModels/x", spec=spec, update_mask=["displayName", "description"]
    )

    request = fake_api.requests[-1]
    assert request.method == "PATCH"
    assert request.url.params["updateMask"] == "displayName,description"
    assert request.body == {"displayName": "New"}
    assert model.display_name == "New" and model.description is None and model.top_k == 10


def test_patch_refuses_an_immutable_field(client: GeminiClient) -> None:
    with pytest.raises(ValueError, match="cannot update baseModel"):
        client.update_tuned_model("x", spec=SPEC, update_mask=["baseModel"])


def test_delete_then_404(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    fake_api.add_model("x")
    client.delete_tuned_model("x")
    assert fake_api.models == {}
    with pytest.raises(NotFoundError):
        client.delete_tuned_model("x")


def test_delete_whose_answer_was_lost_succeeds(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    fake_api.add_model("x")
    fake_api.fail_next(Fault(status=0, after_effect=True))
    client.delete_tuned_model("tunedModels/x")
    assert fake_api.models == {}
    assert client.request_count == 2


def test_operations(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    created = client.create_tuned_model(model_id="m", spec=SPEC, examples=EXAMPLES)
    assert client.get_operation(created.name) == created
    assert client.list_operations("m") == [created]


def test_base_models_and_generate(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    [base] = client.list_base_models()
    assert base.name == "models/gemini-1.5-flash-001-tuning" and base.tunable
    assert client.get_base_model("gemini-1.5-flash-001-tuning") == base
    assert base.input_token_limit == 16384 and base.top_k == 64

    fake_api.add_model("x")
    result = client.generate_content("x", prompt="hi", temperature=0.1, candidate_count=2)
    assert result.texts == ("echo hi", "echo hi") and result.text == "echo hi"
    assert result.finish_reasons == ("STOP", "STOP")
    assert result.total_tokens == 3
    request = fake_api.requests[-1]
    assert request.url.path == "/v1beta/tunedModels/x:generateContent"
    assert request.body == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"temperature": 0.1, "candidateCount": 2},
    }


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1beta/tunedModels/x"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1beta/tunedModels/x"),
        ("https://proxy.example/gemini/", "https://proxy.example/gemini/v1beta/tunedModels/x"),
    ],
)
def test_any_base_url(
    fake_api: FakeGeminiApi, fake_time: FakeTime, endpoint: str, expected: str
) -> None:
    with (
        make_client(fake_api, fake_time, endpoint=endpoint) as client,
        pytest.raises(NotFoundError),
    ):
        client.get_tuned_model("x")
    assert str(fake_api.requests[-1].url) == expected


def test_names_cannot_inject_a_query(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_tuned_model("x?key=1#y")
    assert fake_api.requests[-1].url.query == b""


def test_key_goes_in_a_header_never_the_url(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    fake_api.add_model("x")
    client.get_tuned_model("x")
    list(client.list_tuned_models())
    client.create_tuned_model(model_id="y", spec=SPEC, examples=EXAMPLES)
    for request in fake_api.requests:
        assert request.headers["x-goog-api-key"] == API_KEY
        assert API_KEY not in str(request.url)
        assert "key" not in request.url.params


def test_generate_sends_the_generation_config_and_retries_a_rate_limit(
    fake_api: FakeGeminiApi, client: GeminiClient, fake_time: FakeTime
) -> None:
    fake_api.add_model("x")
    fake_api.fail_next(Fault(status=429, retry_delay="3s"))

    result = client.generate_content(
        "tunedModels/x",
        prompt="hi",
        generation_config={"temperature": 0, "maxOutputTokens": 64, "stopSequences": ["\n"]},
    )

    assert result.text == "echo hi"
    assert fake_time.sleeps and fake_time.sleeps[0] >= 3  # the server's retry delay is honoured
    bodies = [r.body for r in fake_api.requests if r.url.path.endswith(":generateContent")]
    assert len(bodies) == 2  # the 429, then the answer
    assert bodies[-1] == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"temperature": 0, "maxOutputTokens": 64, "stopSequences": ["\n"]},
    }
