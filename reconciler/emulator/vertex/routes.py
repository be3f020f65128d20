"""The Vertex AI route table the gateway serves."""

from __future__ import annotations

from reconciler.emulator.call import Handler
from reconciler.emulator.vertex import endpoints, tuning_jobs

_JOBS = "/projects/{project}/locations/{location}/tuningJobs"
_ENDPOINT = "/projects/{project}/locations/{location}/endpoints/{endpoint}"

ROUTES: list[tuple[str, str, Handler, bool]] = [
    route
    for version in ("v1", "v1beta1")
    for route in (
        ("POST", f"/{version}{_JOBS}", tuning_jobs.create, False),
        ("GET", f"/{version}{_JOBS}", tuning_jobs.list_, False),
        ("GET", f"/{version}{_JOBS}/{{job}}", tuning_jobs.get, False),
        ("POST", f"/{version}{_JOBS}/{{job}}:cancel", tuning_jobs.cancel, False),
        ("POST", f"/{version}{_ENDPOINT}:generateContent", endpoints.generate, False),
        ("POST", f"/{version}{_ENDPOINT}:streamGenerateContent", endpoints.generate, True),
    )
]
