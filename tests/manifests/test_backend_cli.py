"""Choosing the backend for `validate`: flags, the Backend document, the environment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.manifests import find_backend_document, load_manifests
from reconciler.spec import DatasetRef
from reconciler.target import TargetSettings
from tests.support.servers import REPO_ROOT, run_cli

CASES = REPO_ROOT / "tests" / "cases" / "manifests"
VERTEX_FLAGS = (
    "--backend",
    "vertex",
    "--project",
    "my-project",
    "--location",
    "us-central1",
    "--dataset-bucket",
    "gs://my-data/tuning",
)
VERTEX_ENV = {
    "RECONCILER_BACKEND": "vertex",
    "GOOGLE_CLOUD_PROJECT": "env-project",
    "GOOGLE_CLOUD_LOCATION": "europe-west4",
    "RECONCILER_DATASET_BUCKET": "gs://env-data",
}


def _repo(tmp_path: Path, case: str, *, backend_document: bool = True) -> Path:
    shutil.copytree(CASES / case / "manifests", tmp_path / "manifests")
    if not backend_document:
        (tmp_path / "manifests" / "backend.yaml").unlink()
    return tmp_path


def _validate_json(cwd: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = run_cli(*args, "validate", "--format", "json", cwd=cwd, env=env)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    return report


def test_the_backend_document_chooses_vertex(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "backend-vertex-good")
    result = run_cli("validate", cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    report = _validate_json(cwd)
    assert report["valid"] is True
    assert report["backend"] == "vertex"
    assert report["target"] == "vertex:projects/my-project/locations/us-central1"


def test_the_vertex_fields_are_loaded_into_the_applied_spec(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "backend-vertex-good")
    result = load_manifests([cwd / "manifests"], root=cwd, use_cache=False)
    adder = result.desired.models["adder"].spec
    assert adder.baseModel == "gemini-2.5-flash"
    assert adder.labels == {"team": "search", "cost_center": "cc-42"}
    assert adder.hyperparameters.adapterSize == 4
    assert adder.hyperparameters.learningRateMultiplier == 1.5
    holdout = result.desired.datasets["holdout"]
    assert adder.validationDataset == DatasetRef(name="holdout", hash=holdout.hash, examples=1)
    shouter = result.desired.models["shouter"].spec
    assert shouter.hyperparameters.adapterSize == 1  # from the Hyperparameters document
    assert shouter.validationDataset is not None
    assert shouter.validationDataset.name == "shouter/validation"
    assert shouter.validationDataset.hash == result.desired.datasets["shouter/validation"].hash
    assert result.desired.backend is not None and result.desired.backend.type == "vertex"
    document = find_backend_document([cwd / "manifests"], root=cwd)
    assert document == result.desired.backend


def test_a_flag_overrides_the_backend_document(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "backend-vertex-good")
    result = run_cli("--backend", "gemini", "validate", cwd=cwd)
    assert result.returncode == 1
    assert (
        "manifests/models.yaml:8:3: error: `spec.labels` is only on the vertex backend, "
        "and the backend is gemini"
    ) in result.stdout.splitlines()


def test_flags_or_environment_choose_vertex_without_a_document(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "backend-vertex-good", backend_document=False)
    assert run_cli("validate", cwd=cwd).returncode == 1  # the Gemini API by default
    by_flags = _validate_json(cwd, *VERTEX_FLAGS)
    assert (by_flags["valid"], by_flags["target"]) == (
        True,
        "vertex:projects/my-project/locations/us-central1",
    )
    by_env = _validate_json(cwd, env=VERTEX_ENV)
    assert (by_env["valid"], by_env["target"]) == (
        True,
        "vertex:projects/env-project/locations/europe-west4",
    )
    # each flag wins over its variable
    mixed = _validate_json(cwd, "--location", "us", env=VERTEX_ENV)
    assert mixed["target"] == "vertex:projects/env-project/locations/us"


def test_the_backend_document_wins_over_the_environment(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "backend-vertex-good")
    (cwd / "manifests" / "backend.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: Backend\nmetadata:\n  name: api\n"
        "spec:\n  type: gemini\n",
        encoding="utf-8",
    )
    report = _validate_json(cwd, env=VERTEX_ENV)
    assert (report["valid"], report["backend"]) == (False, "gemini")


def test_a_missing_setting_is_a_usage_error_naming_where_to_set_it(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "backend-vertex-good", backend_document=False)
    result = run_cli(
        "--backend", "vertex", "--location", "us-central1", "validate", cwd=cwd,
        env={"RECONCILER_DATASET_BUCKET": "gs://b-data"},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: the vertex backend needs a project: give --project, set GOOGLE_CLOUD_PROJECT, "
        "or set `spec.project` in the Backend document",
        "hint: e.g. --project my-project (the project id)",
    ]


def test_a_malformed_setting_names_its_source(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "backend-vertex-good", backend_document=False)
    result = run_cli("validate", cwd=cwd, env={**VERTEX_ENV, "GOOGLE_CLOUD_LOCATION": "mars"})
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error: GOOGLE_CLOUD_LOCATION must be a region like us-central1 or europe-west4, "
        "or global, us or eu, got `mars`"
    )
    bucket = run_cli(*VERTEX_FLAGS[:-1], "gs://Bad_Bucket", "validate", cwd=cwd)
    assert bucket.returncode == 1
    assert bucket.stderr.startswith("Error: --dataset-bucket must name a bucket of 3-63")


def test_a_vertex_option_on_the_gemini_backend_is_refused(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "good-full")
    result = run_cli("--project", "my-project", "validate", cwd=cwd)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "Error: --project is only for the vertex backend, and the backend is gemini "
        "(chosen by the default)"
    )
    unknown = run_cli("--backend", "bedrock", "validate", cwd=cwd)
    assert unknown.returncode == 2
    assert "'bedrock' is not one of 'gemini', 'vertex'" in unknown.stderr


def test_the_settings_are_global_options(tmp_path: Path) -> None:
    cwd = _repo(tmp_path, "good-full")
    result = run_cli("validate", "--backend", "vertex", cwd=cwd)
    assert result.returncode == 2
    assert "--backend is a global option: give it before the command" in result.stderr
    help_text = run_cli("--help").stdout
    for option in ("--backend", "--project", "--location", "--dataset-bucket"):
        assert option in help_text


SEEN: list[object] = []


@click.command()
def _probe() -> None:
    """Records the Globals it runs with."""
    from reconciler.cli.context import get_globals

    SEEN.append(get_globals())


def test_settings_are_kept_apart_by_where_they_come_from(monkeypatch: pytest.MonkeyPatch) -> None:
    """Globals keeps flag and environment values apart (the document comes between)."""
    from reconciler.cli import COMMANDS, cli
    from reconciler.cli.context import Globals

    monkeypatch.setitem(COMMANDS, "probe-target", f"{__name__}:_probe")
    SEEN.clear()
    result = CliRunner().invoke(
        cli,
        ["--backend", "VERTEX", "--project", "flag-project", "probe-target"],
        env={
            "GOOGLE_CLOUD_PROJECT": "env-project",
            "GOOGLE_CLOUD_LOCATION": "us",
            "RECONCILER_BACKEND": None,
            "RECONCILER_DATASET_BUCKET": None,
        },
    )
    assert result.exit_code == 0, result.output
    (seen,) = SEEN
    assert isinstance(seen, Globals)
    assert seen.target_flags == TargetSettings(backend="vertex", project="flag-project")
    # GOOGLE_CLOUD_PROJECT is hidden by --project: a flag always wins over its variable
    assert seen.target_env == TargetSettings(location="us")
