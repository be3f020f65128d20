"""``reconciler validate`` and ``reconciler schema``: check manifests offline; print their schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.errors import Diagnostic

DEFAULT_PATH = "manifests"


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for GitHub Actions annotations.",
)
@click.option(
    "--allow-outside-root",
    is_flag=True,
    help="Let manifests and dataset files be read through symlinks (or paths) leading "
    "outside the current directory (the repository root).",
)
def validate(paths: tuple[Path, ...], output_format: str, allow_outside_root: bool) -> int:
    """Check manifests and datasets (default: manifests/); no network. Exit 0 valid, 1 invalid.

    The fields each backend accepts are checked for the backend chosen by
    --backend, the Backend document or RECONCILER_BACKEND (gemini by default);
    its project, location and dataset bucket are checked too.
    """
    from reconciler.cli.common import target_for
    from reconciler.cli.context import get_globals
    from reconciler.manifests import inspect_manifests

    g = get_globals()
    result = inspect_manifests(
        list(paths) or [Path(DEFAULT_PATH)],
        root=Path.cwd(),
        allow_outside_root=allow_outside_root,
        target_flags=g.target_flags,
        target_env=g.target_env,
    )
    # Raises (exit 1) naming the flag, variable and document field of a missing
    # or malformed setting; an invalid Backend document is among the errors.
    target = None if result.errors else target_for(g, result.desired)
    summary = result.summary()
    if output_format == "json":
        document = {
            "valid": not result.errors,
            "backend": result.backend,
            "target": target.identity if target else None,
            "errors": [_as_json(d) for d in result.errors],
            "warnings": [_as_json(d) for d in result.warnings],
            "summary": summary,
        }
        click.echo(json.dumps(document, indent=2))
    elif output_format == "github":
        for diagnostic in result.diagnostics:
            click.echo(_as_github(diagnostic))
        click.echo(_summary_line(summary))
    else:
        for diagnostic in result.diagnostics:
            click.echo(str(diagnostic))
        click.echo(_summary_line(summary))
        if result.errors:
            count = len(result.errors)
            click.echo(f"{count} error{'s' if count != 1 else ''}")
    return 1 if result.errors else 0


@click.command()
def schema() -> None:
    """Print the JSON Schema of the manifests (for editors: yaml-language-server)."""
    from reconciler.spec import manifest_json_schema

    click.echo(json.dumps(manifest_json_schema(), indent=2))


def _summary_line(summary: dict[str, Any]) -> str:
    def plural(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    evaluations = summary.get("evaluations", 0)
    return (
        f"{plural(summary['models'], 'model')}, {plural(summary['datasets'], 'dataset')} "
        f"({plural(summary['examples'], 'example')}), "
        f"{plural(summary['hyperparameterSets'], 'hyperparameter set')}"
        + (f", {plural(evaluations, 'evaluation')}" if evaluations else "")
    )


def _as_json(diagnostic: Diagnostic) -> dict[str, Any]:
    loc = diagnostic.location
    return {
        "file": loc.file,
        "line": loc.line,
        "column": loc.column,
        "field": diagnostic.field,
        "message": diagnostic.message,
        "hint": diagnostic.hint,
    }


def _escape(text: str, *, property_value: bool = False) -> str:
    """GitHub workflow-command escaping (``%``, newlines; ``:`` and ``,`` in properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _as_github(diagnostic: Diagnostic) -> str:
    loc = diagnostic.location
    props = [f"file={_escape(loc.file, property_value=True)}"]
    if loc.line:
        props.append(f"line={loc.line}")
    if loc.column:
        props.append(f"col={loc.column}")
    message = diagnostic.message + (f" ({diagnostic.hint})" if diagnostic.hint else "")
    command = "error" if diagnostic.severity == "error" else "warning"
    return f"::{command} {','.join(props)}::{_escape(message)}"
