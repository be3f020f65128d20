"""`make demo` runs to completion on both backends: models tune to ACTIVE on the Gemini API,
a Vertex AI tuning job succeeds and passes its gate, a plot is written, no server is left."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.servers import REPO_ROOT


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text`` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def test_demo_runs_to_completion_and_stops_its_emulator(tmp_path: Path) -> None:
    # A copy of the script and the example manifests, so that the test does not
    # touch the working tree's demo-out/.
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "demo.py", tmp_path / "scripts" / "demo.py")
    shutil.copytree(REPO_ROOT / "manifests", tmp_path / "manifests")
    shutil.copytree(REPO_ROOT / "examples" / "vertex", tmp_path / "examples" / "vertex")

    result = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr

    for command in ("validate", "plan", "apply --auto-approve", "inventory"):
        assert f"$ reconciler {command}\n" in out
    assert "$ reconciler show increment --plot increment-loss.svg" in out
    assert "Apply complete: 4 created" in out
    assert re.search(r"tunedModels/increment\s+managed\s+.*ACTIVE", out)
    assert (
        "Gemini API models ACTIVE:    4 (french-words, greeter, increment, increment-refined)"
        in out
    )
    assert "Loss curve" in out
    # french-words passed its evaluation gate at apply; eval reruns it from the cache.
    assert re.search(r"french-words\s+french-check\s+exactMatch\s+1\.00\s+0\.90\s+pass", out)
    assert "Evaluated 1 model: 1 passed, 0 below a threshold, 0 failed to run." in out

    # The Vertex AI part: the Backend document of examples/vertex/ chooses the backend.
    vertex = out[out.index("--- Vertex AI") :]
    for command in ("validate", "plan", "apply --auto-approve", "inventory", "show french-words"):
        assert f"$ reconciler {command}\n" in vertex
    assert (
        "Backend: Vertex AI tuningJobs in projects/demo-project/locations/us-central1 "
        "(datasets in gs://reconciler-demo-datasets/tuning)" in vertex
    )
    assert "note: a new billed tuning job" in vertex
    assert "create succeeded (ACTIVE, evaluation french-check passed)" in vertex
    assert "Apply complete: 1 created" in vertex
    assert re.search(r"tunedModels/french-words-[0-9a-f]+\s+managed\s+.*ACTIVE", vertex)
    assert "1 model: 1 managed" in vertex
    job = re.search(r"job\s+projects/\d+/locations/us-central1/tuningJobs/\d+", vertex)
    model = re.search(r"model\s+projects/\d+/locations/us-central1/models/\d+@1", vertex)
    endpoint = re.search(r"endpoint\s+projects/\d+/locations/us-central1/endpoints/\d+", vertex)
    assert job and model and endpoint, vertex
    assert "Vertex AI jobs SUCCEEDED:    1 (English to French words)" in out
    vertex_state = json.loads(
        (tmp_path / "demo-out" / "vertex" / ".reconciler" / "state.json").read_text()
    )
    assert vertex_state["backend"] == "vertex"
    assert list(vertex_state["models"]) == ["french-words"]

    plot = tmp_path / "demo-out" / "increment-loss.svg"
    assert plot.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert (tmp_path / "demo-out" / ".reconciler" / "state.json").is_file()

    url = re.search(r"Emulator ready at (http://127\.0\.0\.1:(\d+))", out)
    assert url is not None
    assert "Emulator stopped." in out
    assert _processes_mentioning(f"--port {url.group(2)}") == []
    try:
        httpx.get(f"{url.group(1)}/emulator/stats", timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the demo's emulator still answers")


def test_a_failing_vertex_step_fails_the_demo_with_its_exit_code_and_stops_the_emulator(
    tmp_path: Path,
) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "demo.py", tmp_path / "scripts" / "demo.py")
    shutil.copytree(REPO_ROOT / "manifests", tmp_path / "manifests")
    vertex = tmp_path / "examples" / "vertex"
    shutil.copytree(REPO_ROOT / "examples" / "vertex", vertex)
    models = vertex / "models.yaml"
    models.write_text(models.read_text().replace("adapterSize: 4", "adapterSize: 3"))

    result = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Demo failed: `reconciler validate` exited with 1" in result.stderr
    assert "adapterSize" in result.stdout + result.stderr
    assert "Demo complete." not in result.stdout
    url = re.search(r"Emulator ready at http://127\.0\.0\.1:(\d+)", result.stdout)
    assert url is not None
    assert result.stdout.rstrip().endswith("Emulator stopped.")
    assert _processes_mentioning(f"--port {url.group(1)}") == []
