"""Command-line entry point: parse flags, call one function, render, map errors to exit codes.

Commands live one per module (``reconciler/cli/<name>_cmd.py``) and are imported
only when invoked, so ``reconciler --help`` and ``validate`` start fast.
Expected errors (``ReconcilerError``) become one ``Error: ...`` line on stderr,
plus a ``hint:`` line, and their exit code; anything else is a bug: a short
message, and the traceback with ``-v``.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Any

import click

from reconciler import __version__
from reconciler.cli.context import Globals

# A plan of 10,000 models keeps a few hundred thousand objects alive; with
# CPython's default thresholds the full collections re-scan them over and over
# (half the run time). Reference counting frees nearly everything, and young
# cycles are still collected; the long-running emulator keeps the defaults.
GC_THRESHOLDS = (200_000, 100, 1000)

# command name -> "module:attribute"; the module is imported on first use.
COMMANDS: dict[str, str] = {
    "validate": "reconciler.cli.validate_cmd:validate",
    "schema": "reconciler.cli.validate_cmd:schema",
    "plan": "reconciler.cli.plan_cmd:plan",
    "apply": "reconciler.cli.apply_cmd:apply",
    "destroy": "reconciler.cli.apply_cmd:destroy",
    "import": "reconciler.cli.apply_cmd:import_",
    "wait": "reconciler.cli.apply_cmd:wait",
    "eval": "reconciler.cli.eval_cmd:eval_",
    "inventory": "reconciler.cli.inventory_cmd:inventory",
    "show": "reconciler.cli.inventory_cmd:show",
    "output": "reconciler.cli.output_cmd:output",
    "state": "reconciler.cli.state_cmd:state",
    "force-unlock": "reconciler.cli.state_cmd:force_unlock",
    "emulator": "reconciler.cli.emulator_cmd:emulator",
}

# command name -> its one-line help, so that `--help` and shell completion list
# the commands without importing them (a command module pulls in pydantic,
# httpx, ...: about 0.5 s). tests/test_startup.py checks they match the
# commands' own help; a command missing here is simply imported to ask it.
SUMMARIES: dict[str, str] = {
    "apply": "Make the live tuned models match the manifests (or carry out a saved plan).",
    "destroy": "Delete the managed tuned models (all, or the --target ones).",
    "emulator": "The local API emulator: Gemini API tuned models, Vertex AI tuning jobs, Cloud Storage.",
    "eval": "Evaluate the ACTIVE managed models (all with an evaluation, or NAME...) now.",
    "force-unlock": "Remove a stuck state lock (PostgreSQL: end the holder's database session).",
    "import": "Bring a live model (tunedModels/ID, or a Vertex AI tuning job) under management.",
    "inventory": "Every live tuned model: managed, drifted, in-flight, failed, unmanaged, missing.",
    "plan": "Show what apply would do to make the live tuned models match the manifests.",
    "schema": "Print the JSON Schema of the manifests (for editors: yaml-language-server).",
    "output": "Print the serving live name of each managed model (or of NAME...).",
    "show": "One model: fields, operation progress, tuning snapshots and loss curve.",
    "state": "Inspect, forget, export or import the state.",
    "validate": "Check manifests and datasets (default: manifests/); no network.",
    "wait": "Wait for in-flight tuning operations (all, or NAME...) to finish.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib  # only on this error path

            close = difflib.get_close_matches(name, sorted(COMMANDS), n=1)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)

    def _summary(self, ctx: click.Context, name: str, limit: int) -> str:
        # A stand-in command shortens the summary exactly as click shortens help.
        command = (
            click.Command(name, help=SUMMARIES[name])
            if name in SUMMARIES
            else self.get_command(ctx, name)
        )
        return command.get_short_help_str(limit) if command else ""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        with formatter.section("Commands"):
            formatter.write_dl([(name, self._summary(ctx, name, limit)) for name in names])

    def shell_complete(
        self, ctx: click.Context, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        items = [
            CompletionItem(name, help=self._summary(ctx, name, 45))
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        # The group's own options (click.Command's completion, not Group's, which
        # would import every command for its help).
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option(
    "--endpoint",
    envvar="RECONCILER_ENDPOINT",
    default="https://generativelanguage.googleapis.com",
    show_default=True,
    help="Base URL of the Gemini API (or of a local emulator).",
)
@click.option(
    "--endpoint-moved",
    is_flag=True,
    help="The API the state was made with moved to --endpoint: use and record it there.",
)
@click.option(
    "--backend",
    envvar="RECONCILER_BACKEND",
    type=click.Choice(["gemini", "vertex"], case_sensitive=False),
    default=None,
    help="The tuning API: gemini (the Gemini API, the default) or vertex (Vertex AI "
    "tuningJobs); env RECONCILER_BACKEND. A Backend document in the manifests is used "
    "when no option says otherwise, before the environment.",
)
@click.option(
    "--project",
    envvar="GOOGLE_CLOUD_PROJECT",
    default=None,
    help="vertex: the Google Cloud project id (env GOOGLE_CLOUD_PROJECT).",
)
@click.option(
    "--location",
    envvar="GOOGLE_CLOUD_LOCATION",
    default=None,
    help="vertex: the region (us-central1), or global, us, eu (env GOOGLE_CLOUD_LOCATION).",
)
@click.option(
    "--dataset-bucket",
    envvar="RECONCILER_DATASET_BUCKET",
    default=None,
    metavar="gs://BUCKET[/PREFIX]",
    help="vertex: where datasets are staged (env RECONCILER_DATASET_BUCKET).",
)
@click.option(
    "--api-key",
    default=None,
    help="API key (env GEMINI_API_KEY, then GOOGLE_API_KEY); sent as x-goog-api-key, never in a "
    "URL. A command line is visible to other users (ps): prefer --api-key-file or the variable.",
)
@click.option(
    "--api-key-file",
    envvar="RECONCILER_API_KEY_FILE",
    default=None,
    metavar="PATH",
    help="Read the API key from this file (env RECONCILER_API_KEY_FILE), e.g. a mounted secret.",
)
@click.option(
    "--access-token",
    envvar="GOOGLE_OAUTH_ACCESS_TOKEN",
    default=None,
    help="OAuth access token, sent as a Bearer token (env GOOGLE_OAUTH_ACCESS_TOKEN).",
)
@click.option(
    "--user-project",
    envvar="GOOGLE_CLOUD_QUOTA_PROJECT",
    default=None,
    help="Project billed for OAuth calls (x-goog-user-project).",
)
@click.option(
    "--state",
    "state_location",
    envvar="RECONCILER_STATE",
    default=".reconciler/state.json",
    show_default=True,
    help="State file path, or a postgresql:// URI for shared state.",
)
@click.option(
    "--request-timeout",
    envvar="RECONCILER_REQUEST_TIMEOUT",
    default=None,
    metavar="DURATION",
    help="Give up on one API request after this long, its retries included "
    "(e.g. 30s, 5m; env RECONCILER_REQUEST_TIMEOUT).  [default: 3m]",
)
@click.option("--no-color", is_flag=True, help="No colour in output (NO_COLOR is honoured too).")
@click.option("-v", "--verbose", count=True, help="Log requests; show tracebacks on errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    endpoint: str,
    endpoint_moved: bool,
    backend: str | None,
    project: str | None,
    location: str | None,
    dataset_bucket: str | None,
    api_key: str | None,
    api_key_file: str | None,
    access_token: str | None,
    user_project: str | None,
    state_location: str,
    request_timeout: str | None,
    no_color: bool,
    verbose: int,
) -> None:
    """Config-as-code for tuned Gemini models, on the Gemini API or Vertex AI."""
    extra: dict[str, Any] = {}
    if request_timeout is not None:
        extra["request_timeout"] = _request_timeout(request_timeout)
    if api_key and api_key_file:
        if ctx.get_parameter_source("api_key_file") is click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError("give the API key once: --api-key or --api-key-file, not both")
        api_key_file = None  # the flag wins over RECONCILER_API_KEY_FILE
    if api_key_file:
        api_key = _read_key_file(api_key_file)
    api_key = api_key or os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
    ctx.obj = Globals(
        endpoint=endpoint,
        endpoint_moved=endpoint_moved,
        api_key=api_key or None,
        access_token=access_token or None,
        user_project=user_project or None,
        state_location=state_location,
        no_color=no_color or bool(os.environ.get("NO_COLOR")),
        verbose=verbose,
        **_target_settings(
            ctx, backend=backend, project=project, location=location, dataset_bucket=dataset_bucket
        ),
        **extra,
    )
    if verbose:
        import logging

        from reconciler.api.redact import ScrubbingFormatter  # only with -v

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(ScrubbingFormatter("%(asctime)s %(name)s %(message)s"))
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO, handlers=[handler]
        )
        # Third-party loggers stay quiet; ours (reconciler.*) carry redacted request logs.
        for noisy in ("httpx", "httpcore", "asyncio", "matplotlib", "PIL"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _target_settings(ctx: click.Context, **values: str | None) -> dict[str, Any]:
    """``target_flags`` and ``target_env`` of Globals: each value where it was given."""
    from reconciler.target import TargetSettings

    flags: dict[str, str | None] = {}
    env: dict[str, str | None] = {}
    for name, value in values.items():
        source = ctx.get_parameter_source(name)
        given = value.lower() if name == "backend" and value else value
        if source is click.core.ParameterSource.ENVIRONMENT:
            env[name] = given or None
        elif source is click.core.ParameterSource.COMMANDLINE:
            flags[name] = given or None
    return {"target_flags": TargetSettings(**flags), "target_env": TargetSettings(**env)}


# A key is about 40 characters; anything this long is not a key file.
KEY_FILE_MAX_BYTES = 4096


def _read_key_file(path: str) -> str:
    """The key in ``path`` (surrounding whitespace and the final newline dropped).

    Errors name the file and never quote its content.
    """
    hint = "'--api-key-file' / RECONCILER_API_KEY_FILE"
    try:
        with open(path, "rb") as handle:
            data = handle.read(KEY_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror or exc}", param_hint=hint
        ) from None
    if len(data) > KEY_FILE_MAX_BYTES:
        raise click.BadParameter(
            f"{path} is larger than {KEY_FILE_MAX_BYTES} bytes: not an API key file",
            param_hint=hint,
        )
    try:
        key = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        key = ""
    if not key or any(c.isspace() or not c.isprintable() for c in key):
        raise click.BadParameter(
            f"{path} does not hold one API key (one line of printable characters)",
            param_hint=hint,
        )
    return key


def _request_timeout(text: str) -> float:
    from reconciler.cli.options import parse_duration  # only when the option is given

    try:
        seconds = parse_duration(text)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise click.BadParameter(
            f"{text!r} is not a positive duration (use e.g. 30s, 5m, 250ms)",
            param_hint="'--request-timeout' / RECONCILER_REQUEST_TIMEOUT",
        )
    return seconds


def _global_options() -> set[str]:
    return {opt for param in cli.params for opt in getattr(param, "opts", ())}


def _scrubbed(text: str) -> str:
    """``text`` without any secret the run sent (an error may quote what a server echoed),
    and with no control or bidirectional character to act on the terminal, line by line."""
    from reconciler.api.redact import scrub_known  # only on the error path
    from reconciler.render.escape import printable

    return "\n".join(printable(line) for line in scrub_known(text).split("\n"))


def _print_traceback() -> None:
    """The current exception's traceback, every line scrubbed: its chain can hold httpx
    errors quoting the server's reason phrase or a malformed status or header line."""
    import traceback

    click.echo(_scrubbed(traceback.format_exc()), err=True, nl=False)


def _wants_traceback(argv: list[str]) -> bool:
    return any(
        a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in argv
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from reconciler.errors import ReconcilerError

    args = sys.argv[1:] if argv is None else argv
    if "emulator" not in args:
        gc.set_threshold(*GC_THRESHOLDS)
    try:
        result: Any = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.NoSuchOption as exc:
        if exc.option_name in _global_options():
            # `reconciler destroy --state X`: the option exists, only before the command.
            command = exc.ctx.info_name if exc.ctx else "COMMAND"
            click.echo(
                f"Error: {exc.option_name} is a global option: give it before the command, "
                f"e.g. `reconciler {exc.option_name} ... {command} ...`",
                err=True,
            )
            sys.exit(exc.exit_code)
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReconcilerError as exc:
        if _wants_traceback(args):
            _print_traceback()
        click.echo(_scrubbed(f"Error: {exc.message}"), err=True)
        if exc.hint:
            click.echo(_scrubbed(f"hint: {exc.hint}"), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so plainly, traceback on request
        if _wants_traceback(args):
            _print_traceback()
        click.echo(_scrubbed(f"Error: internal error: {type(exc).__name__}: {exc}"), err=True)
        click.echo("hint: rerun with -v for a traceback, and please report it", err=True)
        sys.exit(1)
    finally:
        if "emulator" not in args:
            # What is left is freed when the process exits; spare the interpreter's
            # final full collection a scan of it (about 20 ms after a large plan).
            gc.freeze()
    sys.exit(result if isinstance(result, int) else 0)
