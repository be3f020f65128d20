"""One exception tree for the whole tool.

Every error a user can cause or meet is a ``ReconcilerError``; the CLI turns it
into one ``Error: ...`` line (plus ``hint``) and the exit code it carries.
Anything else reaching the CLI is a bug and gets a traceback with ``-v``.

    ReconcilerError                      exit 1
    ├── UsageError                       bad flags / arguments the parser cannot catch
    ├── ManifestError                    manifests or datasets invalid (carries Diagnostics)
    ├── PlanError                        plan cannot be made (import conflict, preventDestroy, cycle)
    │   └── StalePlanError               a saved plan no longer matches state or live models
    ├── StateError                       state storage
    │   ├── StateLockedError             another writer holds the lock (names the holder)
    │   ├── StateCorruptError            unreadable, or a newer format: refused, never overwritten
    │   └── StateConflictError           compare-and-swap on the serial failed / lock lost
    ├── CredentialsError                 no API key or token where one is needed
    ├── ApplyError                       some actions of an apply failed (summary in message)
    └── ApiError                         the Gemini API answered with a google.rpc.Status
        ├── InvalidArgumentError         400
        ├── UnauthenticatedError         401
        ├── PermissionDeniedError        403
        ├── NotFoundError                404
        ├── AlreadyExistsError           409
        ├── ResourceExhaustedError       429            temporary
        ├── InternalError                500            temporary
        ├── UnavailableError             502/503/504    temporary
        └── TransportError               connection / timeout, no HTTP answer   temporary

``ApiError`` is raised ``from`` the underlying httpx error so ``-v`` shows the
chain, but no httpx exception ever escapes ``reconciler.api``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class ReconcilerError(Exception):
    """Base of every expected error. ``hint`` is printed on a second line."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(ReconcilerError):
    """Arguments that parse but make no sense together."""


@dataclass(frozen=True)
class SourceLocation:
    """A place in a user's file: 1-based line and column (0 when unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return (
                f"{self.file}:{self.line}:{self.column}"
                if self.column
                else f"{self.file}:{self.line}"
            )
        return self.file


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the manifests: where, what, and optionally how to fix it."""

    location: SourceLocation
    message: str
    severity: str = "error"  # "error" | "warning"
    field: str | None = None  # dotted path, e.g. "spec.tuningTask.hyperparameters.epochCount"
    hint: str | None = None  # e.g. "did you mean `displayName`?"

    def __str__(self) -> str:
        text = f"{self.location}: {self.severity}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ManifestError(ReconcilerError):
    """The manifests (or a dataset they point at) are invalid; every problem is listed."""

    def __init__(self, diagnostics: list[Diagnostic], *, paths: Sequence[str] = ()) -> None:
        errors = [d for d in diagnostics if d.severity == "error"]
        first = "invalid manifests"
        if errors:  # shown after "Error: ", so without the severity word again
            head = errors[0]
            first = f"{head.location}: {head.message}" + (f" ({head.hint})" if head.hint else "")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        command = " ".join(["reconciler validate", *(shlex.quote(p) for p in paths)])
        super().__init__(first + more, hint=f"run `{command}` to see every problem")
        self.diagnostics = diagnostics


class PlanError(ReconcilerError):
    """The desired state cannot be planned safely (conflict, preventDestroy, ...)."""


class StalePlanError(PlanError):
    """A saved plan was made against a state or live models that have since changed."""


class StateError(ReconcilerError):
    """State storage failed."""


class StateLockedError(StateError):
    """Another writer holds the state lock."""


class StateCorruptError(StateError):
    """The stored state cannot be read or is of a newer format; it is left untouched."""


class StateConflictError(StateError):
    """A fenced write lost: the serial moved or this writer no longer holds the lock."""


class CredentialsError(ReconcilerError):
    """No credential for an endpoint that needs one."""


class ApplyError(ReconcilerError):
    """One or more actions failed during apply; the message summarises the run."""


class ApiError(ReconcilerError):
    """An error answer from the Gemini API (a google.rpc.Status body) or no answer at all."""

    temporary: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: int = 0,
        status: str = "",
        details: list[dict[str, Any]] | None = None,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{method} {path}: " if method else ""
        label = f"{code or ''} {status}".strip()  # no "0" when there was no HTTP answer
        super().__init__(f"{where}{label}: {message}" if label else f"{where}{message}", hint=hint)
        self.api_message = message
        self.code = code
        self.status = status
        self.details = details or []
        self.method = method
        self.path = path
        self.retry_after = retry_after


class InvalidArgumentError(ApiError):
    pass


class UnauthenticatedError(ApiError):
    pass


class PermissionDeniedError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class AlreadyExistsError(ApiError):
    """409. ``after_retry`` is True when an earlier attempt of the same call may
    have taken effect before its answer was lost (a 5xx or a dropped
    connection), so the conflicting resource is probably this caller's own:
    look it up and adopt it rather than report a conflict."""

    after_retry: bool = False


class FailedPreconditionError(ApiError):
    pass


class ResourceExhaustedError(ApiError):
    temporary = True


class InternalError(ApiError):
    temporary = True


class UnavailableError(ApiError):
    temporary = True


class TransportError(ApiError):
    """No HTTP answer: connection refused or dropped, or a timeout."""

    temporary = True
