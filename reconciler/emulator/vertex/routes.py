"""The Vertex AI route table the gateway serves."""

from __future__ import annotations

from reconciler.emulator.call import Handler
from reconciler.emulator.vertex import artifacts, endpoints, tuning_jobs

_JOBS = "/projects/{project}/locations/{location}/tuningJobs"
_ENDPOINT = "/projects/{project}/locations/{location}/endpoints/{endpoint}"
_MODELS = "/projects/{project}/locations/{location}/models"
_MODEL = "/projects/{project}/locations/{location}/models/{model}"
_OPERATION = "/projects/{project}/locations/{location}/operations/{op}"

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
        ("GET", f"/{version}{_ENDPOINT}", artifacts.get_endpoint, False),
        ("DELETE", f"/{version}{_ENDPOINT}", artifacts.delete_endpoint, False),
        ("POST", f"/{version}{_ENDPOINT}:undeployModel", artifacts.undeploy, False),
        ("GET", f"/{version}{_MODELS}", artifacts.list_models, False),
        ("GET", f"/{version}{_MODEL}", artifacts.get_model, False),
        ("PATCH", f"/{version}{_MODEL}", artifacts.patch_model, False),
        ("DELETE", f"/{version}{_MODEL}", artifacts.delete_model, False),
        ("GET", f"/{version}{_OPERATION}", artifacts.get_operation, False),
    )
]
