"""A small local runner for the example GitHub Actions workflows.

It runs a workflow job the way GitHub would, from the workflow file itself, so
that the workflows and their end-to-end test cannot drift apart: every ``run:``
step is executed with the job's shell (``bash -eo pipefail``) and environment,
except the few listed in ``NOT_RUN_LOCALLY`` (each with its reason, their
outputs supplied by the test). The reconciler action (``action.yml`` at the
repository root, ``uses: your-org/reconciler@SHA`` in the workflows) is run
the same way, step by step, with its inputs; other ``uses:`` steps are replaced
by local equivalents (a ``git clone`` for checkout, a directory for artifacts,
one comment per pull request and header, nothing for setup-python and the
cache). ``${{ }}`` expressions and ``if:`` conditions are evaluated for exactly
the forms the workflows and the action use; any other form fails loudly
instead of being guessed.
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
ACTION = REPO_ROOT / "action.yml"
ACTION_NAME = "your-org/reconciler"  # how the example workflows refer to this repository
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


def load_action() -> dict[str, Any]:
    data = YAML(typ="safe").load(ACTION.read_text())
    assert isinstance(data, dict)
    return data


def action_commands(workflow: Mapping[str, Any]) -> list[str]:
    """The ``command`` input of every step using the reconciler action, in order."""
    return [
        str(step["with"]["command"])
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith(f"{ACTION_NAME}@")
    ]


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
    are kept per run id under ``artifacts``; ``comments`` holds one comment per
    pull request (ref) and header, updated in place as the sticky-comment
    action does; ``variables`` are the repository's ``vars``.
    """

    origin: Path
    workspace_root: Path
    endpoint: str
    api_key: str
    base_env: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    sticky: dict[tuple[str, str], str] = field(default_factory=dict)
    _runs: int = 0

    @property
    def comments(self) -> list[str]:
        return list(self.sticky.values())

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
        event = next(iter(workflow.get("on") or workflow.get(True) or {}))
        job_run = _JobRun(
            github=self,
            ref=ref,
            run_id=run_id,
            workdir=self.workspace_root / f"run-{run_id}",
            tmp=self.workspace_root / f"run-{run_id}-tmp",
            supplied=supplied_outputs or {},
        )
        job_run.tmp.mkdir(parents=True)
        summary = job_run.tmp / "summary.md"
        summary.touch()
        context = _Context(
            inputs=dict(inputs or {}),
            github=self,
            event=str(event),
            runner_temp=str(job_run.tmp),
        )
        env = dict(self.base_env)
        env.update({k: context.substitute(str(v)) for k, v in workflow.get("env", {}).items()})
        env.update(
            GITHUB_REPOSITORY="your-org/models",
            GITHUB_STEP_SUMMARY=str(summary),
            GITHUB_REF_NAME=ref,
        )
        results = job_run.steps(job["steps"], context=context, env=env)
        steps = results + job_run.inner_steps
        return run_id, JobResult(steps=steps, summary=summary.read_text())

    def actions(self) -> dict[str, Callable[[dict[str, str], _JobRun], bool]]:
        return {
            "actions/checkout": self._checkout,
            "actions/setup-python": lambda *_: True,  # the virtualenv's python is on PATH
            "actions/cache": lambda *_: True,  # nothing to cache: nothing is installed
            "actions/upload-artifact": self._upload,
            "actions/download-artifact": self._download,
            "marocchino/sticky-pull-request-comment": self._comment,
        }

    def _checkout(self, inputs: dict[str, str], run: _JobRun) -> bool:
        workdir = run.workdir
        subprocess.run(
            ["git", "clone", "-q", str(self.origin), str(workdir)], check=True, env=self.base_env
        )
        subprocess.run(
            ["git", "checkout", "-q", run.ref], cwd=workdir, check=True, env=self.base_env
        )
        return True

    def _upload(self, inputs: dict[str, str], run: _JobRun) -> bool:
        store = self.workspace_root / "artifacts" / run.run_id / inputs["name"]
        store.mkdir(parents=True)
        for path in inputs["path"].split():
            source = run.workdir / path
            if source.is_dir():
                shutil.copytree(source, store, dirs_exist_ok=True)
            else:
                shutil.copy(source, store / Path(path).name)
        self.artifacts[f"{run.run_id}/{inputs['name']}"] = store
        return True

    def _download(self, inputs: dict[str, str], run: _JobRun) -> bool:
        store = self.artifacts.get(f"{inputs['run-id']}/{inputs['name']}")
        if store is None:
            return False  # expired or never uploaded
        shutil.copytree(store, run.workdir / inputs["path"])
        return True

    def _comment(self, inputs: dict[str, str], run: _JobRun) -> bool:
        self.sticky[(run.ref, inputs["header"])] = (run.workdir / inputs["path"]).read_text()
        return True


@dataclass
class _JobRun:
    github: GitHub
    ref: str
    run_id: str
    workdir: Path
    tmp: Path
    supplied: Mapping[str, Mapping[str, str]]
    inner_steps: list[StepResult] = field(default_factory=list)  # the action's, "outer: inner"
    _outputs: int = 0

    def steps(
        self,
        steps: list[dict[str, Any]],
        *,
        context: _Context,
        env: dict[str, str],
        prefix: str = "",
    ) -> list[StepResult]:
        results: list[StepResult] = []
        failed = False
        for index, step in enumerate(steps):
            name = prefix + str(step.get("name") or step.get("uses") or f"step {index}")
            condition = step.get("if")
            wanted = context.condition(str(condition)) if condition else True
            if not wanted or (failed and "always()" not in str(condition)):
                results.append(StepResult(name=name, ran=False))
                continue
            if "uses" in step:
                result = self._uses(step, name=name, context=context, env=env)
            elif name.removeprefix(prefix) in NOT_RUN_LOCALLY:
                outputs = dict(self.supplied.get(name, {}))
                result = StepResult(name=name, ran=False, outputs=outputs)
            else:
                result = self._run(step, name=name, env=env, context=context)
            if "id" in step:
                context.steps[step["id"]] = result.outputs
            if result.returncode != 0 and not step.get("continue-on-error"):
                failed = True
            if step.get("continue-on-error"):
                result.returncode = 0
            results.append(result)
            if str(step.get("uses", "")).startswith("actions/checkout"):
                env["GITHUB_SHA"] = _git("rev-parse", "HEAD", cwd=self.workdir)
        return results

    def _run(
        self, step: Mapping[str, Any], *, name: str, env: dict[str, str], context: _Context
    ) -> StepResult:
        self._outputs += 1
        output_file = self.tmp / f"output-{self._outputs}"
        output_file.touch()
        step_env = dict(env, GITHUB_OUTPUT=str(output_file))
        step_env.update({k: context.substitute(str(v)) for k, v in step.get("env", {}).items()})
        script = str(step["run"])
        assert "${{" not in script, f"{name}: pass expressions through env, not into the script"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workdir,
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
        self, step: Mapping[str, Any], *, name: str, context: _Context, env: dict[str, str]
    ) -> StepResult:
        action, _, version = str(step["uses"]).partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", version), f"{name}: pin {action} by a commit SHA"
        inputs = {k: context.substitute(_text(v)) for k, v in step.get("with", {}).items()}
        if action == ACTION_NAME:
            return self._composite(inputs, name=name, outer=context, env=env)
        handler = self.github.actions().get(action)
        assert handler is not None, (
            f"no local equivalent for {action}: add one to tests/gitops/actions.py"
        )
        ok = handler(inputs, self)
        return StepResult(name=name, ran=True, returncode=0 if ok else 1)

    def _composite(
        self, given: dict[str, str], *, name: str, outer: _Context, env: dict[str, str]
    ) -> StepResult:
        """The reconciler action's own steps, with its inputs (defaults, then ``with:``)."""
        action = load_action()
        unknown = set(given) - set(action["inputs"])
        assert not unknown, f"{name}: the action has no input {sorted(unknown)}"
        inputs: dict[str, object] = {
            key: outer.substitute(str(spec.get("default", "")))
            for key, spec in action["inputs"].items()
        }
        inputs.update(given)
        inner = _Context(
            inputs=inputs, github=self.github, event=outer.event, runner_temp=outer.runner_temp
        )
        steps = self.steps(action["runs"]["steps"], context=inner, env=env, prefix=f"{name}: ")
        self.inner_steps.extend(steps)
        outputs = {
            key: inner.substitute(str(spec["value"])) for key, spec in action["outputs"].items()
        }
        return StepResult(
            name=name,
            ran=True,
            returncode=next((s.returncode for s in steps if s.returncode), 0),
            output="\n".join(s.output for s in steps if s.output),
            outputs=outputs,
        )


@dataclass
class _Context:
    inputs: dict[str, object]
    github: GitHub
    event: str
    runner_temp: str
    steps: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, expression: str) -> object:
        expression = expression.strip()
        if " || " in expression:
            left, right = expression.split(" || ", 1)
            return self.value(left) or self.value(right)
        if " && " in expression:
            left, right = expression.split(" && ", 1)
            return self.value(left) and self.value(right)
        for operator in ("==", "!="):
            if f" {operator} " in expression:
                left, right = expression.split(f" {operator} ", 1)
                same = self.value(left) == self.value(right)
                return same if operator == "==" else not same
        if expression.startswith("!"):
            return not self.value(expression[1:])
        if expression == "always()":
            return True
        if re.fullmatch(r"'[^']*'", expression):
            return expression[1:-1]
        known = {
            "secrets.GEMINI_API_KEY": self.github.api_key,
            "github.token": "local-github-token",
            "github.event_name": self.event,
            "github.action_path": str(REPO_ROOT),
            "github.action_ref": "local",
            "runner.os": "Linux",
            "runner.temp": self.runner_temp,
        }
        if expression in known:
            return known[expression]
        if match := re.fullmatch(r"vars\.(\w+)", expression):
            variables = {"RECONCILER_ENDPOINT": self.github.endpoint, **self.github.variables}
            return variables.get(match.group(1), "")
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


def _text(value: object) -> str:
    """A ``with:`` value as GitHub hands it to an action: booleans as true/false."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()
