"""The action's commit-state step: a journal left beside the state is part of the state."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.gitops.actions import VENV_BIN
from tests.support.servers import REPO_ROOT


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def test_a_journal_left_by_a_killed_run_is_committed_with_the_state(tmp_path: Path) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "config", "user.email", "t@example.com")
    git(work, "config", "user.name", "t")
    shutil.copytree(REPO_ROOT / "manifests", work / "manifests")
    (work / "state").mkdir()
    (work / "state" / "reconciler.json").write_text('{"formatVersion": 1}\n')
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "start")
    git(work, "push", "-q", "origin", "HEAD:main")
    # What a killed apply leaves: the state file changed, and its journal beside it.
    (work / "state" / "reconciler.json").write_text('{"formatVersion": 1, "serial": 2}\n')
    (work / "state" / "reconciler.json.journal").write_text("00000000 {}\n")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "INPUT_COMMAND": "validate",
        "INPUT_COMMIT_STATE": "true",
        "RECONCILER_STATE": "state/reconciler.json",
        "GITHUB_REF_NAME": "main",
    }
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "action" / "run.sh")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Committed the state back to main." in done.stdout
    committed = git(origin, "ls-tree", "-r", "--name-only", "main").split()
    assert "state/reconciler.json.journal" in committed

    # Once a later run folded it in (the file is gone), its removal is committed too.
    (work / "state" / "reconciler.json.journal").unlink()
    (work / "state" / "reconciler.json").write_text('{"formatVersion": 1, "serial": 3}\n')
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "action" / "run.sh")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    committed = git(origin, "ls-tree", "-r", "--name-only", "main").split()
    assert "state/reconciler.json.journal" not in committed
