"""The example GitHub Actions workflows and the reconciler action, run end to end.

The workflows use the composite action at the repository root (action.yml);
the local runner (tests/gitops/actions.py) runs the workflow files and the
action's steps as GitHub would, against a served emulator, each job on a fresh
`git clone` of a local "origin". The manifests live in `tuning/` here, set once
as the repository variable RECONCILER_MANIFESTS.

A pull request adds the manifests (plan.yml: validate, one plan comment, the
saved plan kept); a push with a bad key updates that comment with the failure;
the merge applies the reviewed plan without waiting for tuning and commits the
state at once (apply.yml); follow.yml follows the tuning to ACTIVE; the nightly
check (drift.yml) passes, then fails on an edit made outside the reconciler and
on a change merged but not applied; that change is applied once its saved plan
has expired (re-planned), and the nightly check passes again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gitops.actions import (
    ACTION_NAME,
    NOT_RUN_LOCALLY,
    VENV_BIN,
    WORKFLOWS,
    GitHub,
    action_commands,
    load_action,
    load_workflow,
)
from tests.support.servers import REPO_ROOT, ServedEmulator, serve_emulator

API_KEY = "ci-secret-key-1234"
STATE = "state/reconciler.json"
FIND_PLAN = "Find the plan reviewed on the pull request"
MANIFESTS = "tuning"


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
        variables={"RECONCILER_MANIFESTS": MANIFESTS},
    )


def _open_pull_request(dev: Path, env: dict[str, str], *, branch: str, change: str) -> None:
    _git("checkout", "-q", "main", cwd=dev, env=env)
    _git("pull", "-q", "origin", "main", cwd=dev, env=env)
    _git("checkout", "-q", "-b", branch, cwd=dev, env=env)
    if change == "add manifests":
        shutil.copytree(REPO_ROOT / "manifests", dev / MANIFESTS)
    else:
        path = dev / MANIFESTS / "models.yaml"
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


def _uses(document: dict[str, object]) -> list[str]:
    text = json.dumps(document)
    return re.findall(r'"uses": "([^"]+)"', text)


def test_every_workflow_uses_the_action_and_only_known_steps_are_skipped() -> None:
    expected = {
        "plan.yml": ["validate", "plan"],
        "apply.yml": ["apply"],
        "follow.yml": ["wait", "apply", "eval"],
        "drift.yml": ["drift"],
    }
    assert {p.name for p in WORKFLOWS.glob("*.yml")} == set(expected)
    skipped = set()
    for name, commands in expected.items():
        workflow = load_workflow(name)
        assert action_commands(workflow) == commands
        for job in workflow["jobs"].values():
            skipped |= {s.get("name") for s in job["steps"]} & set(NOT_RUN_LOCALLY)
    action_steps = {s.get("name") for s in load_action()["runs"]["steps"]}
    assert skipped | (action_steps & set(NOT_RUN_LOCALLY)) == set(NOT_RUN_LOCALLY)


def test_actions_are_pinned_by_sha_and_secrets_reach_only_the_step_that_needs_them() -> None:
    action = load_action()
    for document in [action, *(load_workflow(p.name) for p in WORKFLOWS.glob("*.yml"))]:
        for used in _uses(document):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", used), used
    for path in WORKFLOWS.glob("*.yml"):
        workflow = load_workflow(path.name)
        assert "secrets." not in json.dumps(workflow.get("env", {})), path.name
        for job in workflow["jobs"].values():
            assert "secrets." not in json.dumps(job.get("env", {})), path.name
            for step in job["steps"]:
                if "secrets." in json.dumps(step):
                    assert str(step.get("uses", "")).startswith(f"{ACTION_NAME}@"), step
                    assert "secrets." not in json.dumps(step.get("env", {}))
    holders = [s.get("name") for s in action["runs"]["steps"] if "inputs.api-key" in json.dumps(s)]
    assert holders == ["Run reconciler"]


def test_pull_request_merge_follow_and_nightly_drift(
    github: GitHub, keyed_emulator: ServedEmulator
) -> None:
    env = github.base_env
    dev = github.origin.parent / "dev"

    # 1. A pull request adds the manifests (in tuning/): validated, planned, commented, saved.
    _open_pull_request(dev, env, branch="add-models", change="add manifests")
    plan_run, plan = github.run_job("plan.yml", ref="add-models")
    assert plan.succeeded, plan.log
    assert plan.step("Validate the manifests: Run reconciler").output.startswith("4 models")
    (comment,) = github.comments
    assert comment.startswith("### reconciler plan")
    assert "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete." in comment
    assert comment in plan.summary
    assert {p.name for p in github.artifacts[f"{plan_run}/reconciler-plan"].iterdir()} == {
        "plan.json",
        "plan.md",
        "comment.md",
        "manifests.tree",
    }
    assert _live(keyed_emulator) == {}, "a plan changes nothing"

    # 2. A run whose plan fails (here a revoked key) updates that one comment
    #    with the failure instead of leaving the previous plan looking current.
    github.api_key = "revoked-key"
    _, failed = github.run_job("plan.yml", ref="add-models")
    github.api_key = API_KEY
    assert not failed.succeeded
    (comment,) = github.comments
    assert "**The plan failed** (exit 1)" in comment
    assert "Plan: 4 to create" not in comment
    plan_run, plan = github.run_job("plan.yml", ref="add-models")
    assert plan.succeeded, plan.log
    assert "Plan: 4 to create" in github.comments[0]

    # 3. Merged: the reviewed plan is applied without waiting for tuning, and the
    #    state is committed back at once.
    _merge(dev, env, branch="add-models")
    merge_sha = _git("rev-parse", "main", cwd=github.origin, env=env)
    _, apply = github.run_job(
        "apply.yml", ref="main", supplied_outputs={FIND_PLAN: {"run-id": plan_run}}
    )
    assert apply.succeeded, apply.log
    applied = apply.step("Apply: Run reconciler").output
    assert "Applying the plan reviewed on the pull request." in applied
    # increment-refined waits for increment, which is still tuning: not a failure.
    assert "3 created, 0 updated, 0 replaced, 0 deleted; 0 failed, 1 skipped" in applied
    assert "created by a later apply (follow.yml)" in applied
    assert keyed_emulator.stats()["creates"] == {"french-words": 1, "greeter": 1, "increment": 1}
    state = _origin_state(github)
    assert sorted(state["models"]) == ["french-words", "greeter", "increment"]  # type: ignore[call-overload]
    subject = _git("log", "-1", "--format=%s", "main", cwd=github.origin, env=env)
    assert subject == f"reconciler: state after apply of {merge_sha}"

    # 4. follow.yml follows the tuning and records it, then applies main again:
    #    the model tuned from increment is created now that increment is ACTIVE.
    _, follow = github.run_job("follow.yml", ref="main")
    assert follow.succeeded, follow.log
    assert "TunedModel/increment: ACTIVE" in follow.summary
    assert "1 created" in follow.step("Apply what waited for its source: Run reconciler").output
    _, follow = github.run_job("follow.yml", ref="main")
    assert follow.succeeded, follow.log
    assert "TunedModel/increment-refined: ACTIVE" in follow.summary
    assert "### Evaluation" in follow.summary  # the gates' report (none configured here)
    assert follow.step("Evaluate: Run reconciler").returncode == 0
    assert {m["state"] for m in _live(keyed_emulator).values()} == {"ACTIVE"}
    assert len(_live(keyed_emulator)) == 4
    assert _origin_state(github)["models"]["increment-refined"]["operation"] is None  # type: ignore[index]

    # 5. The nightly check on a clean checkout: neither kind of drift, exit 0.
    _, nightly = github.run_job("drift.yml", ref="main")
    assert nightly.succeeded, nightly.log
    assert "No drift" in nightly.summary
    assert "No changes" in nightly.summary

    # 6. Someone edits a model outside the reconciler; the next night fails with exit 2.
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
    changed_outside, merged = nightly.summary.split("### Merged but not applied")
    assert "Hand edited" in changed_outside and "TunedModel/greeter" in changed_outside

    # 7. A second pull request is merged but its apply never ran: the nightly
    #    check reports the merged change too.
    _open_pull_request(dev, env, branch="rename", change="rename french-words")
    plan_run, plan = github.run_job("plan.yml", ref="rename")
    assert plan.succeeded, plan.log
    assert "Plan: 0 to create, 2 to update" in github.comments[-1]
    _merge(dev, env, branch="rename")
    _, nightly = github.run_job("drift.yml", ref="main")
    assert nightly.step("Check for drift").returncode == 2
    merged = nightly.summary.split("### Merged but not applied")[1]
    assert "TunedModel/french-words" in merged and "English → French" in merged

    # 8. Applied once its saved plan has expired: re-planned and applied, which
    #    also puts the hand-edited display name back.
    github.artifacts.clear()
    _, apply = github.run_job(
        "apply.yml", ref="main", supplied_outputs={FIND_PLAN: {"run-id": plan_run}}
    )
    assert apply.succeeded, apply.log
    applied = apply.step("Apply: Run reconciler").output
    assert "No reviewed plan for these manifests" in applied
    assert "2 updated" in applied
    assert "2 to update" in apply.summary
    live = _live(keyed_emulator)
    assert live["tunedModels/greeter"]["displayName"] == "Greeter"
    assert live["tunedModels/french-words"]["displayName"] == "English → French"
    assert _origin_state(github)["serial"] > state["serial"]  # type: ignore[operator]

    _, nightly = github.run_job("drift.yml", ref="main")
    assert nightly.succeeded, nightly.log

    # The API key reached the emulator through the action's run step only.
    every_output = "\n".join(github.comments) + _git(
        "log", "-p", "--all", cwd=github.origin, env=env
    )
    assert API_KEY not in every_output
