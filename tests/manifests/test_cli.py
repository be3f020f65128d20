"""`reconciler validate` and `reconciler schema` as a user runs them (subprocess, exit codes, output)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
from ruamel.yaml import YAML

from tests.support.servers import REPO_ROOT, run_cli

CASES = REPO_ROOT / "tests" / "cases" / "manifests"


def _copy_case(name: str, tmp_path: Path) -> Path:
    shutil.copytree(CASES / name / "manifests", tmp_path / "manifests")
    return tmp_path


def test_example_repository_is_valid_text() -> None:
    result = run_cli("validate", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "4 models, 4 datasets (52 examples), 1 hyperparameter set, 1 evaluation"
    )


def test_invalid_text_lists_every_error_and_counts(tmp_path: Path) -> None:
    cwd = _copy_case("missing-references", tmp_path)
    result = run_cli("validate", cwd=cwd)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "manifests/a.yaml:8:19: error: no Dataset named `dd` in the manifests (did you mean `d`?)",
        "manifests/a.yaml:9:22: error: no Hyperparameters named `smal` in the manifests (did you mean `small`?)",
        "manifests/a.yaml:16:21: error: no TunedModel named `mm` in the manifests (did you mean `m`?)",
        "manifests/a.yaml:32:9: warning: Hyperparameters `small` is not used by any TunedModel",
        "2 models, 1 dataset (2 examples), 1 hyperparameter set",
        "3 errors",
    ]


def test_json_format(tmp_path: Path) -> None:
    cwd = _copy_case("unknown-field", tmp_path)
    result = run_cli("validate", "manifests", "--format", "json", cwd=cwd)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"] == [
        {
            "file": "manifests/a.yaml",
            "line": 7,
            "column": 3,
            "field": "spec.displayname",
            "message": "unknown field `displayname` in `spec`",
            "hint": "did you mean `displayName`?",
        }
    ]
    assert report["warnings"] == []
    assert report["summary"]["datasets"] == 1


def test_json_format_valid_has_dataset_stats() -> None:
    result = run_cli("validate", "--format", "json", cwd=REPO_ROOT)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True
    stats = {s["name"]: s for s in report["summary"]["datasetStats"]}
    assert stats["increment-examples"]["estimatedSteps"] == {
        "increment": 25,
        "increment-refined": 15,
    }
    assert stats["greeter/inline"]["examples"] == 12


def test_github_format(tmp_path: Path) -> None:
    cwd = _copy_case("dataset-duplicates-warning", tmp_path)
    (cwd / "manifests" / "bad.yaml").write_text("a: b: c\n")
    result = run_cli("validate", "--format", "github", cwd=cwd)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "::warning file=manifests/a.yaml,line=18,col=7::dataset `d` has 1 duplicate example"
        " (first: this one repeats line 16)"
    )
    assert lines[1].startswith(
        "::error file=manifests/bad.yaml,line=1,col=5::invalid YAML: mapping values are not allowed in this context"
    )


def test_data_outside_root_needs_the_flag(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "manifests").mkdir(parents=True)
    (tmp_path / "shared.jsonl").write_text('{"textInput": "a", "output": "b"}\n')
    (repo / "manifests" / "d.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: Dataset\nmetadata:\n  name: d\n"
        "spec:\n  file: ../../shared.jsonl\n"
    )
    refused = run_cli("validate", cwd=repo)
    assert refused.returncode == 1
    assert (
        "manifests/d.yaml:6:9: error: data file `../../shared.jsonl` is outside the repository root"
        in refused.stdout
    )
    allowed = run_cli("validate", "--allow-outside-root", cwd=repo)
    assert allowed.returncode == 0, allowed.stdout
    assert "1 dataset (1 example)" in allowed.stdout


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = run_cli("validate", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "nowhere: error: no such file or directory"


def test_schema_is_valid_and_accepts_the_examples() -> None:
    result = run_cli("schema", cwd=REPO_ROOT)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    documents = [
        doc
        for path in sorted((REPO_ROOT / "manifests").glob("*.yaml"))
        for doc in YAML(typ="safe").load_all(path.read_text())
    ]
    assert len(documents) == 8
    assert "Evaluation" in {doc["kind"] for doc in documents}
    for doc in documents:
        assert list(validator.iter_errors(doc)) == []
    wrong = {**documents[0], "spek": {}}
    assert list(validator.iter_errors(wrong)) != []
    # The copy the example manifests point editors at is up to date.
    assert json.loads((REPO_ROOT / "manifests" / "schema.json").read_text()) == schema


def test_values_the_service_would_refuse_fail_validate(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: TunedModel\nmetadata: {name: m}\nspec:\n"
        "  baseModel: models/gemini-1.5-flash-001-tuning\n  tuningTask:\n"
        "    trainingData: {examples: [{textInput: a, output: b}]}\n"
        "    hyperparameters:\n"
        "      epochCount: 99999999999999999999999999\n"
        "      learningRate: .inf\n"
    )

    result = run_cli("validate", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[:2] == [
        "manifests/m.yaml:9:19: error: `spec.tuningTask.hyperparameters.epochCount` must be an "
        "integer from 1 to 2,147,483,647 (the API's int32), got 99999999999999999999999999",
        "manifests/m.yaml:10:21: error: `spec.tuningTask.hyperparameters.learningRate` must be a "
        "number > 0 and at most 3.4e38 (the API's 32-bit float), got inf",
    ]


def test_the_summary_counts_every_document_written_not_only_the_valid_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "manifests").mkdir()
    model = (
        "apiVersion: gemini.tuning/v1\nkind: TunedModel\nmetadata: {{name: {name}}}\nspec:\n"
        "  baseModel: models/gemini-1.5-flash-001-tuning\n  topK: {top_k}\n"
        "  tuningTask:\n    trainingData: {{examples: [{{textInput: a, output: b}}]}}\n"
    )
    docs = [model.format(name=f"m{n}", top_k=0 if n % 2 else 3) for n in range(4)]
    (tmp_path / "manifests" / "m.yaml").write_text("---\n".join(docs))

    result = run_cli("validate", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[-2:] == [
        "4 models, 4 datasets (2 examples), 0 hyperparameter sets",
        "2 errors",
    ]
