"""The action's `backend` input reaches reconciler: empty leaves it to the manifests,
`vertex` chooses Vertex AI, anything else is refused before reconciler runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.gitops.actions import VENV_BIN
from tests.support.servers import REPO_ROOT


def _run_action(work: Path, *, backend: str, extra: dict[str, str] | None = None) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILER_", "GOOGLE_", "GEMINI_"))
    }
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        INPUT_COMMAND="validate",
        INPUT_BACKEND=backend,
        GITHUB_STEP_SUMMARY=str(work / "summary.md"),
        GITHUB_OUTPUT=str(work / "output.txt"),
        **(extra or {}),
    )
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "action" / "run.sh")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def _vertex_manifests_without_backend_document(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(REPO_ROOT / "examples" / "vertex", work / "manifests")
    (work / "manifests" / "backend.yaml").unlink()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    return work


def test_backend_vertex_validates_vertex_manifests_and_the_default_does_not(
    tmp_path: Path,
) -> None:
    work = _vertex_manifests_without_backend_document(tmp_path)
    target = {
        "GOOGLE_CLOUD_PROJECT": "demo-project",
        "GOOGLE_CLOUD_LOCATION": "us-central1",
        "RECONCILER_DATASET_BUCKET": "gs://reconciler-demo-datasets/tuning",
    }

    vertex = _run_action(work, backend="vertex", extra=target)
    default = _run_action(work, backend="", extra=target)

    assert vertex.startswith("exit 0\n"), vertex
    assert "1 model, 2 datasets" in vertex
    # Without the input nothing chooses Vertex AI: the Gemini API has no labels.
    assert default.startswith("exit 1\n"), default
    assert "`spec.labels` is only on the vertex backend" in default


def test_a_backend_the_action_does_not_know_is_refused(tmp_path: Path) -> None:
    work = _vertex_manifests_without_backend_document(tmp_path)

    result = _run_action(work, backend="bedrock")

    assert result.startswith("exit 1\n"), result
    assert "backend bedrock is not supported (gemini or vertex)" in result
