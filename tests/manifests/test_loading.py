"""Loading details the case table cannot show: resolution, limits, cache, paths, hashing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from reconciler.datasets import canonical_hash
from reconciler.manifests import CACHE_DIR, _yaml, inspect_manifests, load_manifests
from reconciler.spec import AppliedSpec, DatasetRef, Example, Hyperparameters, Lifecycle

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_example_repository_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    result = load_manifests([Path("manifests")], root=REPO_ROOT, use_cache=False)
    models = result.desired.models
    assert sorted(models) == ["french-words", "greeter", "increment", "increment-refined"]
    increment = models["increment"]
    assert increment.lifecycle == Lifecycle(
        prevent_destroy=True, ignore_changes=frozenset({"description"})
    )
    assert str(increment.location) == "manifests/models.yaml:5:9"
    data = result.desired.datasets["increment-examples"]
    assert increment.spec == AppliedSpec(
        baseModel="models/gemini-1.5-flash-001-tuning",
        displayName="Increment",
        description="Answers with the next number.",
        temperature=0.2,
        hyperparameters=Hyperparameters(epochCount=5, batchSize=4, learningRate=0.001),
        dataset=DatasetRef(name="increment-examples", hash=data.hash, examples=20),
    )
    refined = models["increment-refined"]
    assert refined.depends_on == "increment"
    assert refined.spec.tunedModelSource == "tunedModels/increment"
    assert refined.spec.baseModel is None
    assert refined.spec.hyperparameters == Hyperparameters(epochCount=3, batchSize=4)
    assert models["greeter"].spec.dataset is not None
    assert models["greeter"].spec.dataset.name == "greeter/inline"
    assert data.examples[0] == Example("1", "2", data.examples[0].location)
    assert str(data.examples[0].location) == "manifests/data/increment.jsonl:1"
    assert all(m.estimated_steps <= 40 for m in models.values())


def test_unmanaged_source_and_project_numbers(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: TunedModel\nmetadata: {name: child}\nspec:\n"
        "  tunedModelSource: tunedModels/elsewhere-123\n  readerProjectNumbers: [123456789012, '42']\n"
        "  tuningTask:\n    trainingData: {examples: [{textInput: a, output: b}]}\n"
    )
    result = load_manifests([tmp_path / "m.yaml"], root=tmp_path, use_cache=False)
    child = result.desired.models["child"]
    assert child.spec.tunedModelSource == "tunedModels/elsewhere-123"
    assert child.depends_on is None
    assert child.spec.readerProjectNumbers == ("123456789012", "42")
    assert child.spec.hyperparameters == Hyperparameters()


def test_hash_ignores_format_and_key_order(tmp_path: Path) -> None:
    examples = [Example("1", "2"), Example("é", '"q"')]
    (tmp_path / "a.jsonl").write_text(
        '{"textInput": "1", "output": "2"}\n{"output": "\\"q\\"", "textInput": "\\u00e9"}\n'
    )
    (tmp_path / "b.json").write_text(
        '[{"input": "1", "output": "2"},\n {"input": "é", "output": "\\"q\\""}]'
    )
    (tmp_path / "c.csv").write_text('text_input,output\n1,2\né,"""q"""\n', encoding="utf-8")
    docs = "".join(
        f"---\napiVersion: gemini.tuning/v1\nkind: Dataset\nmetadata: {{name: {n}}}\nspec: {{file: {f}}}\n"
        for n, f in (("a", "a.jsonl"), ("b", "b.json"), ("c", "c.csv"))
    )
    (tmp_path / "d.yaml").write_text(docs)
    result = inspect_manifests([tmp_path], root=tmp_path, use_cache=False)
    assert result.errors == []
    assert {d.hash for d in result.desired.datasets.values()} == {canonical_hash(examples)}
    assert canonical_hash(examples) != canonical_hash(examples[::-1])


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jsonl").write_text('{"textInput": "a", "output": "b"}\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside, repo / "data")
    (repo / "d.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: Dataset\nmetadata: {name: d}\nspec: {file: data/x.jsonl}\n"
    )
    manifest = repo / "d.yaml"
    result = inspect_manifests([manifest], root=repo, use_cache=False)
    assert [d.message for d in result.errors] == [
        "data file `data/x.jsonl` is outside the repository root"
    ]
    allowed = inspect_manifests([manifest], root=repo, allow_outside_root=True, use_cache=False)
    assert allowed.errors == []


def test_absolute_data_path_inside_the_repository_is_a_warning(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "manifests").mkdir()
    data = repo / "data" / "x.jsonl"
    data.write_text('{"textInput": "a", "output": "b"}\n')
    (repo / "manifests" / "d.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: Dataset\nmetadata: {name: d}\n"
        f"spec: {{file: {data}}}\n"
    )
    result = inspect_manifests([repo / "manifests"], root=repo, use_cache=False)
    assert result.errors == []
    about_the_file = [d for d in result.warnings if d.field == "spec.file"]
    assert [(d.severity, d.message, d.hint, d.field) for d in about_the_file] == [
        (
            "warning",
            f"data file `{data}` is an absolute path: the repository will not work from "
            "another checkout or machine",
            "write it relative to this manifest: `../data/x.jsonl`",
            "spec.file",
        )
    ]
    assert str(about_the_file[0].location).endswith("d.yaml:4:14")
    # Outside the repository, an absolute path is deliberate (--allow-outside-root).
    elsewhere = inspect_manifests(
        [repo / "manifests"], root=repo / "manifests", allow_outside_root=True, use_cache=False
    )
    assert [d for d in elsewhere.diagnostics if d.field == "spec.file"] == []


def test_file_size_limit_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "MAX_FILE_BYTES", 1024 * 1024)
    (tmp_path / "big.yaml").write_bytes(b"# " + b"x" * (1024 * 1024 + 10) + b"\n")
    result = inspect_manifests([tmp_path], root=tmp_path, use_cache=False)
    assert [str(d) for d in result.errors] == [
        f"{tmp_path.as_posix()}/big.yaml: error: file is 1.0 MiB; manifest files are limited to 1 MiB"
    ]


def test_recursive_alias_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("a: &x\n  - *x\n")
    result = inspect_manifests([tmp_path], root=tmp_path, use_cache=False)
    assert [d.message for d in result.errors] == [
        "an alias refers to its own anchor (recursive YAML)"
    ]


def test_directories_are_searched_recursively_in_order(tmp_path: Path) -> None:
    for rel in ("b/z.yml", "a.yaml", "b/a.yaml", ".hidden/x.yaml", "notes.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("kind: Nope\n")
    result = inspect_manifests([tmp_path], root=tmp_path, use_cache=False)
    files = [
        Path(d.location.file).relative_to(tmp_path).as_posix()
        for d in result.errors
        if "kind" in d.message
    ]
    assert files == ["a.yaml", "b/a.yaml", "b/z.yml"]


def test_cache_serves_unchanged_files_and_notices_edits(tmp_path: Path) -> None:
    model = (
        "apiVersion: gemini.tuning/v1\nkind: TunedModel\nmetadata: {name: m}\nspec:\n"
        "  baseModel: models/gemini-1.5-flash-001-tuning\n  temperature: 0.5\n"
        "  tuningTask:\n    trainingData: {examples: [{textInput: a, output: b}]}\n"
    )
    (tmp_path / "m.yaml").write_text(model)
    first = load_manifests([tmp_path / "m.yaml"], root=tmp_path)
    entries = list((tmp_path / CACHE_DIR).glob("*.json"))
    assert len(entries) == 1
    assert (tmp_path / CACHE_DIR).parent.joinpath(".gitignore").read_text().endswith("*\n")
    again = load_manifests([tmp_path / "m.yaml"], root=tmp_path)
    assert again.desired.models == first.desired.models
    (tmp_path / "m.yaml").write_text(model.replace("temperature: 0.5", "temperature: 1.5"))
    edited = inspect_manifests([tmp_path / "m.yaml"], root=tmp_path)
    assert [str(d).removeprefix(tmp_path.as_posix() + "/") for d in edited.errors] == [
        "m.yaml:6:16: error: `spec.temperature` must be between 0.0 and 1.0, got 1.5"
    ]
    # A damaged cache entry is ignored, not trusted.
    entries[0].write_text("{not json")
    (tmp_path / "m.yaml").write_text(model)
    assert (
        load_manifests([tmp_path / "m.yaml"], root=tmp_path).desired.models == first.desired.models
    )


def test_jsonl_errors_name_the_line_and_are_capped(tmp_path: Path) -> None:
    lines = ['{"textInput": "a", "output": "b"}'] * 5311 + ["{oops"] + ["[1]"] * 30
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "d.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: Dataset\nmetadata: {name: d}\nspec: {file: x.jsonl}\n"
    )
    started = time.perf_counter()
    result = inspect_manifests([tmp_path / "d.yaml"], root=tmp_path, use_cache=False)
    assert time.perf_counter() - started < 5
    messages = [str(d).removeprefix(tmp_path.as_posix() + "/") for d in result.errors]
    assert (
        messages[0]
        == "x.jsonl:5312: error: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    )
    assert messages[-1] == "x.jsonl: error: 11 more problems in this file not shown"
    assert len(messages) == 21
