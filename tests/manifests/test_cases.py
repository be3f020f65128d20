"""Every directory under tests/cases/manifests/ is a case: manifests plus the exact report expected.

Adding a case is adding a directory: ``<case>/manifests/*.yaml`` (and any data
files) and ``<case>/expected.yaml`` with the diagnostics as `validate` prints
them, the field each one names, and the summary counts.

Symlinks and FIFOs are not checked in (a loop or a FIFO trips every tool that
walks the repository): ``symlinks:`` (link: target) and ``fifos:`` (paths) in
``expected.yaml`` list them, and such a case runs in a copy where they are
made, with ``<case>/outside/`` copied next to it, outside its root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.errors import ManifestError
from reconciler.manifests import inspect_manifests, load_manifests

CASES = Path(__file__).resolve().parents[1] / "cases" / "manifests"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "expected.yaml").is_file())


def _expected(case: Path) -> dict[str, Any]:
    data = YAML(typ="safe").load((case / "expected.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _prepared(case: Path, expected: dict[str, Any], tmp_path: Path) -> Path:
    """The directory to run the case in: itself, or a copy with its symlinks and FIFOs made."""
    links = expected.get("symlinks") or {}
    fifos = expected.get("fifos") or []
    if not links and not fifos:
        return case
    root = tmp_path / "repo"
    shutil.copytree(case, root, ignore=shutil.ignore_patterns("outside"))
    if (case / "outside").is_dir():
        shutil.copytree(case / "outside", tmp_path / "outside")
    for link, target in links.items():
        os.symlink(target, root / link)
    for fifo in fifos:
        (root / fifo).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(root / fifo)
    return root


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    case = CASES / name
    expected = _expected(case)
    monkeypatch.chdir(_prepared(case, expected, tmp_path))

    result = inspect_manifests([Path("manifests")], root=Path("."), use_cache=False)

    assert [str(d) for d in result.diagnostics] == expected["diagnostics"]
    assert [d.field for d in result.diagnostics] == expected["fields"]
    assert (not result.errors) is expected["valid"]
    summary = result.summary()
    assert {k: summary[k] for k in expected["summary"]} == expected["summary"]
    if "sameHash" in expected:
        hashes = {result.desired.datasets[n].hash for n in expected["sameHash"]}
        assert len(hashes) == 1


@pytest.mark.parametrize("name", CASE_NAMES)
def test_load_manifests_raises_exactly_when_invalid(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case = CASES / name
    expected = _expected(case)
    monkeypatch.chdir(_prepared(case, expected, tmp_path))
    if expected["valid"]:
        result = load_manifests([Path("manifests")], root=Path("."), use_cache=False)
        assert result.models == expected["summary"]["models"]
    else:
        with pytest.raises(ManifestError) as caught:
            load_manifests([Path("manifests")], root=Path("."), use_cache=False)
        errors = [d for d in expected["diagnostics"] if ": error: " in d]
        # The CLI shows it after "Error: ", so without the severity word.
        first = errors[0].split(" (did you mean")[0].replace(": error: ", ": ", 1)
        assert str(caught.value).startswith(first)
        assert "run `reconciler validate manifests`" in (caught.value.hint or "")
        assert len([d for d in caught.value.diagnostics if d.severity == "error"]) == len(errors)


def test_every_error_class_has_a_case() -> None:
    wanted = {
        "yaml-syntax", "not-a-mapping", "missing-kind", "missing-name", "unknown-kind",
        "unknown-api-version", "unknown-field", "wrong-type", "out-of-range",
        "both-learning-rates", "base-and-source", "invalid-id", "display-name-too-long",
        "duplicate-names", "missing-references", "cycle", "ignore-changes", "unsafe-tag",
        "alias-bomb", "dataset-malformed-jsonl", "dataset-empty", "dataset-missing-output",
        "dataset-mixed-types", "dataset-limits", "dataset-outside-root",
    }  # fmt: skip
    assert wanted <= set(CASE_NAMES)
