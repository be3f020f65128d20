"""Every shell command in README.md runs, in order, with the exit code the README shows.

The commands run with bash in a temporary copy of the repository against a
served emulator (RECONCILER_ENDPOINT), so the README cannot rot: a renamed
flag, a changed exit code or a changed message shown in a console block fails
here. The rules for reading the README are in tests/docs/readme.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.docs.readme import Command, Skipped, WriteFile, steps
from tests.support.servers import REPO_ROOT, serve_emulator

README = REPO_ROOT / "README.md"


def _copy_of_repository(target: Path) -> Path:
    shutil.copytree(
        REPO_ROOT,
        target,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "*.egg-info",
            "__pycache__",
            ".reconciler",
            "demo-out",
            "artifacts",
            ".*_cache",
        ),
    )
    return target


def test_readme_commands_run_with_the_exit_codes_it_shows(tmp_path: Path) -> None:
    repo = _copy_of_repository(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILER_", "GEMINI_", "GOOGLE_"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", HOME=str(home), NO_COLOR="1"
    )
    ran: list[str] = []
    with serve_emulator("--step-seconds", "0", "--seed", "5") as emulator:
        env["RECONCILER_ENDPOINT"] = emulator.url
        for step in steps(README):
            if isinstance(step, WriteFile):
                (repo / step.path).parent.mkdir(parents=True, exist_ok=True)
                (repo / step.path).write_text(step.content)
            elif isinstance(step, Command):
                done = subprocess.run(
                    ["bash", "--noprofile", "--norc", "-o", "pipefail", "-c", step.line],
                    cwd=repo,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                output = done.stdout + done.stderr
                assert done.returncode == step.expected_exit, f"$ {step.line}\n{output}"
                for shown in step.shown_output:
                    assert shown in output, f"$ {step.line} does not print {shown!r}:\n{output}"
                ran.append(step.line)
    # The tutorial really ran: a plot was written, completion was generated,
    # and the whole lifecycle was walked through.
    assert (repo / "shouter-loss.svg").is_file()
    assert (
        "complete -o nosort -F _reconciler_completion reconciler"
        in (home / ".reconciler-complete.bash").read_text()
    )
    assert any(line.startswith("reconciler destroy") for line in ran)
    assert len(ran) >= 15


def test_only_a_few_blocks_are_skipped_and_each_says_why() -> None:
    skipped = [s for s in steps(README) if isinstance(s, Skipped)]
    assert 1 <= len(skipped) <= 6
    assert all(len(s.reason.split()) >= 3 for s in skipped)
    assert any("make demo" in s.body for s in skipped)
