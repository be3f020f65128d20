"""The API route table: method, path pattern, the template counted in stats, the handler.

A new API surface (Vertex AI ``tuningJobs``, say) is a module of handlers and
its rows here, or a table of its own passed to ``create_app(routes=...)``.

Google paths put verbs after a colon (``tunedModels/x:generateContent``), which
starlette's path converters cannot split, so the table uses its own patterns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.emulator import operations, permissions, tuned_models
from reconciler.emulator.call import Handler
from reconciler.emulator.gcs.routes import ROUTES as GCS_ROUTES
from reconciler.emulator.generate import handlers as generate
from reconciler.emulator.vertex.routes import ROUTES as VERTEX_ROUTES

_SEG = r"[^/:]+"
_EXTRA_PARAMS = ("project", "location", "job", "endpoint", "bucket")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler
    stream: bool = False
    # A raw route reads the body itself (Cloud Storage uploads are not JSON).
    raw: bool = False
    # The JSON body as sent (function args and JSON Schemas keep their own key
    # names); otherwise every key arrives in camelCase.
    body_as_sent: bool = False


def route(
    method: str,
    template: str,
    handler: Handler,
    *,
    stream: bool = False,
    raw: bool = False,
    body_as_sent: bool = False,
) -> Route:
    regex = re.escape(template)
    for name in ("id", "op", "model", "perm", *_EXTRA_PARAMS):
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>{_SEG})")
    # A Cloud Storage object name may hold slashes (sent as %2F, decoded by then).
    regex = regex.replace(re.escape("{object}"), "(?P<object>.+)")
    return Route(
        method, re.compile(regex), f"{method} {template}", handler, stream, raw, body_as_sent
    )


def _both(
    method: str,
    template: str,
    handler: Handler,
    *,
    stream: bool = False,
    body_as_sent: bool = False,
) -> list[Route]:
    """Routes the real service offers under /v1 as well: generate, operations, base models."""
    return [
        route(method, f"/{version}{template}", handler, stream=stream, body_as_sent=body_as_sent)
        for version in ("v1beta", "v1")
    ]


def _generation(prefix: str, generate: Handler, count: Handler) -> list[Route]:
    """generateContent, streamGenerateContent and countTokens on ``prefix`` (v1beta and v1)."""
    return [
        *_both("POST", f"{prefix}:generateContent", generate, body_as_sent=True),
        *_both("POST", f"{prefix}:streamGenerateContent", generate, stream=True, body_as_sent=True),
        *_both("POST", f"{prefix}:countTokens", count, body_as_sent=True),
    ]


GEMINI_ROUTES: list[Route] = [
    route("GET", "/v1beta/tunedModels", tuned_models.list_),
    route("POST", "/v1beta/tunedModels", tuned_models.create),
    route("GET", "/v1beta/tunedModels/{id}", tuned_models.get),
    route("PATCH", "/v1beta/tunedModels/{id}", tuned_models.patch),
    route("DELETE", "/v1beta/tunedModels/{id}", tuned_models.delete),
    route("POST", "/v1beta/tunedModels/{id}/permissions", permissions.create),
    route("GET", "/v1beta/tunedModels/{id}/permissions", permissions.list_),
    route("GET", "/v1beta/tunedModels/{id}/permissions/{perm}", permissions.get),
    route("PATCH", "/v1beta/tunedModels/{id}/permissions/{perm}", permissions.patch),
    route("DELETE", "/v1beta/tunedModels/{id}/permissions/{perm}", permissions.delete),
    route("POST", "/v1beta/tunedModels/{id}:transferOwnership", permissions.transfer_ownership),
    *_both("GET", "/tunedModels/{id}/operations", operations.list_),
    *_both("GET", "/tunedModels/{id}/operations/{op}", operations.get),
    *_both("POST", "/tunedModels/{id}/operations/{op}:cancel", operations.cancel),
    *_generation("/tunedModels/{id}", generate.tuned_generate, generate.tuned_count_tokens),
    # Base models are served under /v1 too: google-genai 3.x defaults to /v1.
    *_both("GET", "/models", generate.list_models),
    *_both("GET", "/models/{model}", generate.get_model),
    *_generation("/models/{model}", generate.base_generate, generate.base_count_tokens),
]

# Vertex AI tuning and Cloud Storage share the port; tests/emulator/cloud/ covers them.
CLOUD_ROUTES: list[Route] = [
    *[route(m, t, h, stream=s) for m, t, h, s in VERTEX_ROUTES],
    *[route(m, t, h, raw=True) for m, t, h in GCS_ROUTES],
]

ROUTES: list[Route] = [*GEMINI_ROUTES, *CLOUD_ROUTES]


def match(
    method: str, path: str, routes: Sequence[Route] = ROUTES
) -> tuple[Route | None, dict[str, str]]:
    for candidate in routes:
        if candidate.method != method:
            continue
        found = candidate.pattern.fullmatch(path)
        if found:
            params = found.groupdict()
            if candidate.stream:
                params["stream"] = "1"
            return candidate, params
    return None, {}
