"""The pre-commit hook other repositories use: its manifests path is one `args:` setting."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from tests.gitops.actions import VENV_BIN
from tests.support.servers import REPO_ROOT


def _hook_command(args: list[str]) -> list[str]:
    """What pre-commit runs for the hook with ``args:`` (pass_filenames is false)."""
    (hook,) = YAML(typ="safe").load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["pass_filenames"] is False
    return [*shlex.split(hook["entry"]), *hook.get("args", []), *args]


def test_the_hook_validates_the_paths_given_as_args(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "manifests", tmp_path / "tuning")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        _hook_command(["tuning/"]), cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("4 models")

    default = subprocess.run(
        _hook_command([]), cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert default.returncode == 1
    assert "manifests: error: no such file or directory" in default.stdout
