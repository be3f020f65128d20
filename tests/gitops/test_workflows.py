"""The example GitHub Actions workflows, run end to end against a served emulator.

A pull request adds the example manifests (plan.yml: validate, a plan comment, a
saved plan), it is merged (apply.yml applies the reviewed plan and commits the
state back), the nightly check (drift.yml) passes, a model is edited out of
band and the nightly check fails with exit 2; a second pull request merged when
its saved plan has expired is re-planned and applied, which also corrects the
drift. Each job starts from a fresh `git clone` of a local "origin".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gitops.actions import (
    NOT_RUN_LOCALLY,
    VENV_BIN,
    GitHub,
    load_workflow,
    reconciler_commands,
)
from tests.support.servers import REPO_ROOT, ServedEmulator, serve_emulator

API_KEY = "ci-secret-key-1234"
STATE = "state/reconciler.json"
FIND_PLAN = "Find the plan reviewed on the pull request"


@pytest.fixture(scope="module")
def keyed_emulator() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--seed", "3", api_key=API_KEY) as server:
        yield server


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILER_", "GEMINI_", "GOOGLE_", "GIT_", "GITHUB_"))
    }
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
    )
    return env


def _git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def github(tmp_path: Path, keyed_emulator: ServedEmulator) -> GitHub:
    """An "origin" whose main holds a README only, and a developer clone of it."""
    keyed_emulator.reset()
    env = _env(tmp_path)
    origin = tmp_path / "origin.git"
    _git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path, env=env)
    dev = tmp_path / "dev"
    _git("clone", "-q", str(origin), str(dev), cwd=tmp_path, env=env)
    _git("checkout", "-q", "-b", "main", cwd=dev, env=env)
    (dev / "README.md").write_text("Our tuned models.\n")
    (dev / ".gitignore").write_text(".reconciler/\nstate/*.backup\n")
    _git("add", ".", cwd=dev, env=env)
    _git("commit", "-q", "-m", "initial", cwd=dev, env=env)
    _git("push", "-q", "origin", "main", cwd=dev, env=env)
    return GitHub(
        origin=origin,
        workspace_root=tmp_path / "runner",
        endpoint=keyed_emulator.url,
        api_key=API_KEY,
        base_env=env,
    )


def _open_pull_request(dev: Path, env: dict[str, str], *, branch: str, change: str) -> None:
    _git("checkout", "-q", "main", cwd=dev, env=env)
    _git("pull", "-q", "origin", "main", cwd=dev, env=env)
    _git("checkout", "-q", "-b", branch, cwd=dev, env=env)
    if change == "add manifests":
        shutil.copytree(REPO_ROOT / "manifests", dev / "manifests")
    else:
        path = dev / "manifests" / "models.yaml"
        path.write_text(path.read_text().replace("English to French", "English → French"))
    _git("add", ".", cwd=dev, env=env)
    _git("commit", "-q", "-m", change, cwd=dev, env=env)
    _git("push", "-q", "origin", branch, cwd=dev, env=env)


def _merge(dev: Path, env: dict[str, str], *, branch: str) -> None:
    _git("checkout", "-q", "main", cwd=dev, env=env)
    _git("pull", "-q", "origin", "main", cwd=dev, env=env)
    _git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch, cwd=dev, env=env)
    _git("push", "-q", "origin", "main", cwd=dev, env=env)


def _live(emulator: ServedEmulator) -> dict[str, dict[str, object]]:
    body = httpx.get(
        f"{emulator.url}/v1beta/tunedModels", headers={"x-goog-api-key": API_KEY}, timeout=10
    ).json()
    return {m["name"]: m for m in body.get("tunedModels", [])}


def _origin_state(github: GitHub) -> dict[str, object]:
    text = _git("show", f"main:{STATE}", cwd=github.origin, env=github.base_env)
    state = json.loads(text)
    assert isinstance(state, dict)
    return state


def test_every_workflow_runs_reconciler_and_only_known_steps_are_skipped() -> None:
    expected = {
        "plan.yml": [
            "reconciler validate --format github",
            "reconciler plan --format markdown --out plan.json > plan.md",
        ],
        "apply.yml": [
            "reconciler apply reviewed/plan.json",
            'reconciler plan --format markdown >> "$GITHUB_STEP_SUMMARY"',
            "reconciler apply --auto-approve",
        ],
        "drift.yml": ["reconciler plan --refresh-only --detailed-exitcode --format markdown \\"],
    }
    skipped = set()
    for name, commands in expected.items():
        workflow = load_workflow(name)
        assert reconciler_commands(workflow) == commands
        for job in workflow["jobs"].values():
            skipped |= {s.get("name") for s in job["steps"]} & set(NOT_RUN_LOCALLY)
    assert skipped == set(NOT_RUN_LOCALLY)


def test_pull_request_merge_and_nightly_drift(
    github: GitHub, keyed_emulator: ServedEmulator
) -> None:
    env = github.base_env
    dev = github.origin.parent / "dev"

    # 1. A pull request adds the manifests: validated, planned, commented, saved.
    _open_pull_request(dev, env, branch="add-models", change="add manifests")
    plan_run, plan = github.run_job("plan.yml", ref="add-models")
    assert plan.succeeded, plan.log
    assert plan.step("Validate the manifests").output.startswith("4 models")
    (comment,) = github.comments
    assert comment.startswith("### reconciler plan")
    assert "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete." in comment
    assert comment in plan.summary
    assert {p.name for p in github.artifacts[f"{plan_run}/reconciler-plan"].iterdir()} == {
        "plan.json",
        "plan.md",
        "plan-manifests.tree",
    }
    assert _live(keyed_emulator) == {}, "a plan changes nothing"

    # 2. Merged: the reviewed plan is applied and the state is committed back.
    _merge(dev, env, branch="add-models")
    merge_sha = _git("rev-parse", "main", cwd=github.origin, env=env)
    _, apply = github.run_job(
        "apply.yml", ref="main", supplied_outputs={FIND_PLAN: {"run-id": plan_run}}
    )
    assert apply.succeeded, apply.log
    assert apply.step("Apply the reviewed plan").ran
    assert not apply.step("Plan and apply the merged manifests").ran
    assert "Apply complete: 4 created" in apply.step("Apply the reviewed plan").output
    assert {m["state"] for m in _live(keyed_emulator).values()} == {"ACTIVE"}
    assert len(_live(keyed_emulator)) == 4
    assert keyed_emulator.stats()["creates"] == {
        "french-words": 1,
        "greeter": 1,
        "increment": 1,
        "increment-refined": 1,
    }
    state = _origin_state(github)
    assert sorted(state["models"]) == ["french-words", "greeter", "increment", "increment-refined"]  # type: ignore[call-overload]
    subject = _git("log", "-1", "--format=%s", "main", cwd=github.origin, env=env)
    assert subject == f"reconciler: state after applying {merge_sha}"

    # 3. The nightly check on a clean checkout: no drift, exit 0.
    _, nightly = github.run_job("drift.yml", ref="main")
    assert nightly.succeeded, nightly.log
    assert "No drift" in nightly.summary

    # 4. Someone edits a model outside the reconciler; the next night fails with exit 2.
    httpx.patch(
        f"{keyed_emulator.url}/v1beta/tunedModels/greeter",
        params={"updateMask": "displayName"},
        json={"displayName": "Hand edited"},
        headers={"x-goog-api-key": API_KEY},
        timeout=10,
    ).raise_for_status()
    _, nightly = github.run_job("drift.yml", ref="main")
    assert not nightly.succeeded
    assert nightly.step("Check for drift").returncode == 2
    assert "Hand edited" in nightly.summary
    assert "TunedModel/greeter" in nightly.summary

    # 5. A second pull request, merged after its saved plan expired: re-planned
    #    and applied, which also puts the hand-edited display name back.
    _open_pull_request(dev, env, branch="rename", change="rename french-words")
    plan_run, plan = github.run_job("plan.yml", ref="rename")
    assert plan.succeeded, plan.log
    assert "Plan: 0 to create, 2 to update" in github.comments[-1]
    _merge(dev, env, branch="rename")
    github.artifacts.clear()
    _, apply = github.run_job(
        "apply.yml", ref="main", supplied_outputs={FIND_PLAN: {"run-id": plan_run}}
    )
    assert apply.succeeded, apply.log
    assert not apply.step("Apply the reviewed plan").ran
    assert (
        "No reviewed plan for these manifests"
        in apply.step("Check that the reviewed plan is for the merged manifests").output
    )
    assert "2 updated" in apply.step("Plan and apply the merged manifests").output
    assert "2 to update" in apply.summary
    live = _live(keyed_emulator)
    assert live["tunedModels/greeter"]["displayName"] == "Greeter"
    assert live["tunedModels/french-words"]["displayName"] == "English → French"
    assert _origin_state(github)["serial"] > state["serial"]  # type: ignore[operator]

    _, nightly = github.run_job("drift.yml", ref="main")
    assert nightly.succeeded, nightly.log

    # The API key reached the emulator through the workflow's env only.
    every_output = "\n".join(github.comments) + _git(
        "log", "-p", "--all", cwd=github.origin, env=env
    )
    assert API_KEY not in every_output
