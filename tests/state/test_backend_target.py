"""The state records its backend and target, and refuses a command pointed at another one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import StateError
from reconciler.spec import AppliedSpec, DatasetRef, Hyperparameters
from reconciler.state.base import dump_document
from reconciler.state.bound import ApiBoundBackend
from reconciler.state.file import FileBackend
from reconciler.target import BackendTarget

# A Gemini API state as the reconciler wrote it before it knew Vertex AI.
FIXTURE = Path(__file__).parent / "fixtures" / "gemini-state.json"
GEMINI_API = "https://generativelanguage.googleapis.com"
VERTEX_API = "https://aiplatform.googleapis.com"
PROD = BackendTarget(
    kind="vertex", project="prod-project", location="us-central1", dataset_bucket="gs://prod-data"
)
STAGING = BackendTarget(
    kind="vertex", project="staging-project", location="europe-west4", dataset_bucket="gs://stg"
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".reconciler" / "state.json"


def _bound(
    path: Path, target: BackendTarget, endpoint: str, moved: bool = False
) -> ApiBoundBackend:
    return ApiBoundBackend(inner=FileBackend(path), endpoint=endpoint, target=target, moved=moved)


def _vertex_spec() -> AppliedSpec:
    return AppliedSpec(
        baseModel="gemini-2.5-flash",
        hyperparameters=Hyperparameters(epochCount=3, adapterSize=4),
        dataset=DatasetRef(name="train", hash="sha256:" + "ab" * 32, examples=20),
        validationDataset=DatasetRef(name="holdout", hash="sha256:" + "cd" * 32, examples=5),
        labels={"team": "search"},
    )


def _with_model(doc: StateDocument, spec: AppliedSpec) -> StateDocument:
    return doc.model_copy(update={"models": {"adder": ModelRecord(name="adder", applied=spec)}})


def _written(path: Path, target: BackendTarget, endpoint: str, spec: AppliedSpec) -> None:
    backend = _bound(path, target, endpoint)
    with backend.lock(command="apply"):
        backend.write(_with_model(backend.read(), spec))


def test_a_gemini_state_written_before_reads_and_writes_back_byte_identical(path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    assert dump_document(StateDocument.model_validate_json(text)) == text

    path.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURE, path)
    backend = _bound(path, BackendTarget(), GEMINI_API)
    with backend.lock(command="apply"):
        doc = backend.read()
        backend.write(doc)
    # One write later, only the serial moved.
    assert path.read_text(encoding="utf-8") == text.replace('"serial": 1,', '"serial": 2,', 1)
    assert "target" not in json.loads(path.read_text()) and "adapterSize" not in path.read_text()


def test_a_vertex_state_records_backend_target_and_the_vertex_fields(path: Path) -> None:
    _written(path, PROD, VERTEX_API, _vertex_spec())
    data = json.loads(path.read_text())
    assert data["backend"] == "vertex"
    assert data["target"] == "vertex:projects/prod-project/locations/us-central1"
    assert data["endpoint"] == VERTEX_API
    applied = data["models"]["adder"]["applied"]
    assert applied["hyperparameters"]["adapterSize"] == 4
    assert applied["validationDataset"]["name"] == "holdout"
    assert applied["labels"] == {"team": "search"}
    assert _bound(path, PROD, VERTEX_API).read().models["adder"].applied == _vertex_spec()


def test_another_vertex_project_or_location_is_refused_naming_both(path: Path) -> None:
    _written(path, PROD, VERTEX_API, _vertex_spec())
    before = path.read_bytes()
    for moved in (False, True):  # --endpoint-moved is for endpoints, never for targets
        with pytest.raises(StateError) as caught:
            _bound(path, STAGING, VERTEX_API, moved=moved).read()
        assert caught.value.message == (
            f"the state {path} belongs to Vertex AI project prod-project in us-central1 "
            "(vertex:projects/prod-project/locations/us-central1), not Vertex AI project "
            "staging-project in europe-west4 (vertex:projects/staging-project/locations/"
            "europe-west4): against another project or location every model it manages "
            "would look deleted"
        )
        assert "--project/--location" in (caught.value.hint or "")
    assert path.read_bytes() == before


def test_a_vertex_state_is_refused_on_the_gemini_backend_and_back(path: Path) -> None:
    _written(path, PROD, VERTEX_API, _vertex_spec())
    with pytest.raises(StateError) as gemini:
        _bound(path, BackendTarget(), VERTEX_API).read()
    assert gemini.value.message.startswith(
        f"the state {path} records models of the vertex API, not gemini (it belongs to "
        "Vertex AI project prod-project in us-central1, this command to the Gemini API)"
    )
    assert "--backend" in (gemini.value.hint or "")

    other = path.with_name("gemini.json")
    _written(other, BackendTarget(), GEMINI_API, AppliedSpec(baseModel="models/m"))
    with pytest.raises(StateError) as vertex:
        _bound(other, PROD, GEMINI_API, moved=True).read()
    assert vertex.value.message.startswith(
        f"the state {other} records models of the gemini API, not vertex (it belongs to the "
        "Gemini API, this command to Vertex AI project prod-project in us-central1)"
    )


def test_a_state_without_models_takes_the_target_of_its_next_write(path: Path) -> None:
    backend = _bound(path, PROD, VERTEX_API)
    with backend.lock(command="apply"):
        backend.write(backend.read())
    assert json.loads(path.read_text())["target"] == PROD.identity

    # Emptied, it may serve another target; a journal write records it as a whole write does.
    staging = _bound(path, STAGING, VERTEX_API)
    gemini = _bound(path, BackendTarget(), GEMINI_API)
    with staging.lock(command="apply"):
        doc = staging.read()
        staging.write_records(doc, {"adder": ModelRecord(name="adder")})
    assert staging.read().target == STAGING.identity
    with gemini.lock(command="apply"):
        doc = gemini.inner.read()
        gemini.write_records(doc, {"adder": None})
    assert (gemini.read().backend, gemini.read().target) == ("gemini", None)
    assert "target" not in json.loads(dump_document(FileBackend(path).read()))
