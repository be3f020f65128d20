"""The API route table: method, path pattern, the template counted in stats, the handler.

Google paths put verbs after a colon (``tunedModels/x:generateContent``), which
starlette's path converters cannot split, so the table uses its own patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.emulator import generate, operations, permissions, tuned_models
from reconciler.emulator.call import Handler
from reconciler.emulator.gcs.routes import ROUTES as GCS_ROUTES
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


def _route(
    method: str, template: str, handler: Handler, *, stream: bool = False, raw: bool = False
) -> Route:
    regex = re.escape(template)
    for name in ("id", "op", "model", "perm", *_EXTRA_PARAMS):
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>{_SEG})")
    # A Cloud Storage object name may hold slashes (sent as %2F, decoded by then).
    regex = regex.replace(re.escape("{object}"), "(?P<object>.+)")
    return Route(method, re.compile(regex), f"{method} {template}", handler, stream, raw)


def _both(method: str, template: str, handler: Handler, *, stream: bool = False) -> list[Route]:
    """Routes the real service offers under /v1 as well: generate, operations, base models."""
    return [
        _route(method, f"/{version}{template}", handler, stream=stream)
        for version in ("v1beta", "v1")
    ]


GEMINI_ROUTES: list[Route] = [
    _route("GET", "/v1beta/tunedModels", tuned_models.list_),
    _route("POST", "/v1beta/tunedModels", tuned_models.create),
    _route("GET", "/v1beta/tunedModels/{id}", tuned_models.get),
    _route("PATCH", "/v1beta/tunedModels/{id}", tuned_models.patch),
    _route("DELETE", "/v1beta/tunedModels/{id}", tuned_models.delete),
    _route("POST", "/v1beta/tunedModels/{id}/permissions", permissions.create),
    _route("GET", "/v1beta/tunedModels/{id}/permissions", permissions.list_),
    _route("GET", "/v1beta/tunedModels/{id}/permissions/{perm}", permissions.get),
    _route("PATCH", "/v1beta/tunedModels/{id}/permissions/{perm}", permissions.patch),
    _route("DELETE", "/v1beta/tunedModels/{id}/permissions/{perm}", permissions.delete),
    _route("POST", "/v1beta/tunedModels/{id}:transferOwnership", permissions.transfer_ownership),
    *_both("GET", "/tunedModels/{id}/operations", operations.list_),
    *_both("GET", "/tunedModels/{id}/operations/{op}", operations.get),
    *_both("POST", "/tunedModels/{id}/operations/{op}:cancel", operations.cancel),
    *_both("POST", "/tunedModels/{id}:generateContent", generate.tuned_generate),
    *_both("POST", "/tunedModels/{id}:streamGenerateContent", generate.tuned_generate, stream=True),
    # Base models are served under /v1 too: google-genai 3.x defaults to /v1.
    *_both("GET", "/models", generate.list_models),
    *_both("GET", "/models/{model}", generate.get_model),
    *_both("POST", "/models/{model}:generateContent", generate.base_generate),
    *_both("POST", "/models/{model}:streamGenerateContent", generate.base_generate, stream=True),
]

# Vertex AI tuning and Cloud Storage share the port; tests/emulator/cloud/ covers them.
CLOUD_ROUTES: list[Route] = [
    *[_route(m, t, h, stream=s) for m, t, h, s in VERTEX_ROUTES],
    *[_route(m, t, h, raw=True) for m, t, h in GCS_ROUTES],
]

ROUTES: list[Route] = [*GEMINI_ROUTES, *CLOUD_ROUTES]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        if route.method != method:
            continue
        found = route.pattern.fullmatch(path)
        if found:
            params = found.groupdict()
            if route.stream:
                params["stream"] = "1"
            return route, params
    return None, {}
