"""A small local runner for the example GitHub Actions workflows.

It runs a workflow job the way GitHub would, from the workflow file itself, so
that the workflows and their end-to-end test cannot drift apart: every ``run:``
step is executed with the job's shell (``bash -eo pipefail``) and environment,
except the few listed in ``NOT_RUN_LOCALLY`` (each with its reason, their
outputs supplied by the test); ``uses:`` steps are replaced by local
equivalents (a ``git clone`` for checkout, a directory for artifacts, a list
for the pull-request comment). ``${{ }}`` expressions and ``if:`` conditions
are evaluated for exactly the forms the workflows use; any other form fails
loudly instead of being guessed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.support.servers import REPO_ROOT

WORKFLOWS = REPO_ROOT / "examples" / "github-actions"
VENV_BIN = Path(sys.executable).parent

# Steps a local run cannot perform, with the reason. Their outputs come from the test.
NOT_RUN_LOCALLY = {
    "Install reconciler": "the test runs the working tree's reconciler from the virtualenv",
    "Find the plan reviewed on the pull request": "asks the GitHub API; the test supplies the run id",
}

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load_workflow(name: str) -> dict[str, Any]:
    data = YAML(typ="safe").load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


def reconciler_commands(workflow: Mapping[str, Any]) -> list[str]:
    """Every line of a ``run:`` step that invokes reconciler, in order."""
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                if re.match(r"\s*reconciler\s", line):
                    found.append(line.strip())
    return found


@dataclass
class StepResult:
    name: str
    ran: bool
    returncode: int = 0
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobResult:
    steps: list[StepResult]
    summary: str

    @property
    def succeeded(self) -> bool:
        return all(s.returncode == 0 for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} (exit {s.returncode})\n{s.output}" for s in self.steps)


@dataclass
class GitHub:
    """What the workflows get from GitHub, played locally.

    ``origin`` is a bare repository standing in for the GitHub one; artifacts
    are kept per run id under ``artifacts``; comments are collected in order.
    """

    origin: Path
    workspace_root: Path
    endpoint: str
    api_key: str
    base_env: dict[str, str]
    artifacts: dict[str, Path] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    _runs: int = 0

    def run_job(
        self,
        workflow_file: str,
        *,
        ref: str,
        inputs: Mapping[str, object] | None = None,
        supplied_outputs: Mapping[str, Mapping[str, str]] | None = None,
    ) -> tuple[str, JobResult]:
        """Run the workflow's only job on a fresh clone of ``ref``; returns (run id, result)."""
        self._runs += 1
        run_id = str(self._runs)
        workflow = load_workflow(workflow_file)
        (job,) = workflow["jobs"].values()
        workdir = self.workspace_root / f"run-{run_id}"
        tmp = self.workspace_root / f"run-{run_id}-tmp"
        tmp.mkdir(parents=True)
        summary = tmp / "summary.md"
        summary.touch()
        context = _Context(inputs=dict(inputs or {}), endpoint=self.endpoint, api_key=self.api_key)
        env = dict(self.base_env)
        env.update({k: context.substitute(str(v)) for k, v in workflow.get("env", {}).items()})
        env.update(GITHUB_REPOSITORY="your-org/models", GITHUB_STEP_SUMMARY=str(summary))
        results: list[StepResult] = []
        failed = False
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {index}"
            condition = step.get("if")
            wanted = context.condition(str(condition)) if condition else True
            if not wanted or (failed and condition != "${{ always() }}"):
                results.append(StepResult(name=name, ran=False))
                continue
            if "uses" in step:
                result = self._uses(
                    step, name=name, workdir=workdir, ref=ref, run_id=run_id, ctx=context
                )
            elif name in NOT_RUN_LOCALLY:
                outputs = dict((supplied_outputs or {}).get(name, {}))
                result = StepResult(name=name, ran=False, outputs=outputs)
            else:
                result = self._run(step, name=name, workdir=workdir, env=env, tmp=tmp, ctx=context)
            if "id" in step:
                context.steps[step["id"]] = result.outputs
            if result.returncode != 0 and not step.get("continue-on-error"):
                failed = True
            if step.get("continue-on-error"):
                result.returncode = 0
            results.append(result)
            if name == "actions/checkout@v4" or step.get("uses", "").startswith("actions/checkout"):
                env["GITHUB_SHA"] = _git("rev-parse", "HEAD", cwd=workdir)
        return run_id, JobResult(steps=results, summary=summary.read_text())

    def _run(
        self,
        step: Mapping[str, Any],
        *,
        name: str,
        workdir: Path,
        env: dict[str, str],
        tmp: Path,
        ctx: _Context,
    ) -> StepResult:
        output_file = tmp / f"output-{len(ctx.steps)}-{name.replace(' ', '-').replace('/', '-')}"
        output_file.touch()
        step_env = dict(env, GITHUB_OUTPUT=str(output_file))
        step_env.update({k: ctx.substitute(str(v)) for k, v in step.get("env", {}).items()})
        script = str(step["run"])
        assert "${{" not in script, f"{name}: pass expressions through env, not into the script"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=workdir,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = dict(
            line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
        )
        return StepResult(
            name=name,
            ran=True,
            returncode=done.returncode,
            output=done.stdout + done.stderr,
            outputs=outputs,
        )

    def _uses(
        self,
        step: Mapping[str, Any],
        *,
        name: str,
        workdir: Path,
        ref: str,
        run_id: str,
        ctx: _Context,
    ) -> StepResult:
        action = str(step["uses"]).split("@", 1)[0]
        inputs = {k: ctx.substitute(str(v)) for k, v in step.get("with", {}).items()}
        handler = self._actions().get(action)
        assert handler is not None, (
            f"no local equivalent for {action}: add one to tests/gitops/actions.py"
        )
        ok = handler(inputs, workdir, ref, run_id)
        return StepResult(name=name, ran=True, returncode=0 if ok else 1)

    def _actions(self) -> dict[str, Callable[[dict[str, str], Path, str, str], bool]]:
        return {
            "actions/checkout": self._checkout,
            "actions/setup-python": lambda *_: True,  # the virtualenv's python is on PATH
            "actions/upload-artifact": self._upload,
            "actions/download-artifact": self._download,
            "marocchino/sticky-pull-request-comment": self._comment,
        }

    def _checkout(self, inputs: dict[str, str], workdir: Path, ref: str, run_id: str) -> bool:
        subprocess.run(
            ["git", "clone", "-q", str(self.origin), str(workdir)], check=True, env=self.base_env
        )
        subprocess.run(["git", "checkout", "-q", ref], cwd=workdir, check=True, env=self.base_env)
        return True

    def _upload(self, inputs: dict[str, str], workdir: Path, ref: str, run_id: str) -> bool:
        store = self.workspace_root / "artifacts" / run_id / inputs["name"]
        store.mkdir(parents=True)
        for path in inputs["path"].split():
            shutil.copy(workdir / path, store / Path(path).name)
        self.artifacts[f"{run_id}/{inputs['name']}"] = store
        return True

    def _download(self, inputs: dict[str, str], workdir: Path, ref: str, run_id: str) -> bool:
        store = self.artifacts.get(f"{inputs['run-id']}/{inputs['name']}")
        if store is None:
            return False  # expired or never uploaded
        shutil.copytree(store, workdir / inputs["path"])
        return True

    def _comment(self, inputs: dict[str, str], workdir: Path, ref: str, run_id: str) -> bool:
        self.comments.append((workdir / inputs["path"]).read_text())
        return True


@dataclass
class _Context:
    inputs: dict[str, object]
    endpoint: str
    api_key: str
    steps: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, expression: str) -> object:
        expression = expression.strip()
        if expression.startswith("!"):
            return not self.value(expression[1:])
        if " || " in expression:
            left, right = expression.split(" || ", 1)
            return self.value(left) or self.value(right)
        for operator in ("==", "!="):
            if f" {operator} " in expression:
                left, right = expression.split(f" {operator} ", 1)
                same = self.value(left) == self.value(right)
                return same if operator == "==" else not same
        if expression == "always()":
            return True
        if re.fullmatch(r"'[^']*'", expression):
            return expression[1:-1]
        if expression == "vars.RECONCILER_ENDPOINT":
            return self.endpoint
        if expression == "secrets.GEMINI_API_KEY":
            return self.api_key
        if expression == "github.token":
            return "local-github-token"
        if match := re.fullmatch(r"inputs\.([\w-]+)", expression):
            return self.inputs.get(match.group(1), False)
        if match := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
            return self.steps.get(match.group(1), {}).get(match.group(2), "")
        raise AssertionError(f"the local runner does not know the expression {expression!r}")

    def substitute(self, text: str) -> str:
        return _EXPRESSION.sub(lambda m: str(self.value(m.group(1))), text)

    def condition(self, text: str) -> bool:
        match = _EXPRESSION.fullmatch(text.strip())
        return bool(self.value(match.group(1) if match else text))


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()
