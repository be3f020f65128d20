"""Removing what a tuning job produced: undeploy its Model, delete the Endpoint, delete the Model.

The service requires that order (a deployed Model cannot be deleted, nor an
Endpoint that serves one), and each step is a long-running Operation. Every
step takes "already gone" (404) as done, so a run interrupted half-way (a
crash, a timeout) is finished by running it again. The job record itself
stays: the service has no way to delete a tuning job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from reconciler.api.vertex_jobs import VertexJob
from reconciler.api.vertex_models import VertexEndpoint, unversioned
from reconciler.errors import NotFoundError


@dataclass(frozen=True)
class Removal:
    """What one ``remove_tuned_model`` call did (False: gone already, or kept)."""

    undeployed: tuple[str, ...] = ()  # deployedModelIds undeployed by this call
    endpoint_deleted: bool = False
    model_deleted: bool = False
    # Other models are deployed on the job's Endpoint: it was left in place.
    endpoint_kept: bool = False


class _Artifacts(Protocol):
    def get_endpoint(self, name: str) -> VertexEndpoint: ...
    def undeploy_model(self, endpoint: str, deployed_model_id: str) -> None: ...
    def delete_endpoint(self, name: str) -> None: ...
    def delete_model(self, name: str) -> None: ...


def remove_tuned_model(client: _Artifacts, job: VertexJob) -> Removal:
    """Remove the job's deployment, its Endpoint (unless it serves others) and its Model.

    A job that produced nothing (it did not succeed) needs nothing. Another
    model deployed on the same Endpoint is never touched: the Endpoint is then
    kept, and only this job's deployment removed.
    """
    if not job.model:
        return Removal()
    model = unversioned(job.model)
    undeployed: list[str] = []
    endpoint_deleted = endpoint_kept = False
    endpoint = _get_or_none(client.get_endpoint, job.endpoint) if job.endpoint else None
    if endpoint is not None:
        for deployment in endpoint.deployments:
            if unversioned(deployment.model) != model:
                endpoint_kept = True
            elif _step(client.undeploy_model, endpoint.name, deployment.deployed_model_id):
                undeployed.append(deployment.deployed_model_id)
        if not endpoint_kept:
            endpoint_deleted = _step(client.delete_endpoint, endpoint.name)
    model_deleted = _step(client.delete_model, model)
    return Removal(tuple(undeployed), endpoint_deleted, model_deleted, endpoint_kept)


def _get_or_none(get: Callable[[str], VertexEndpoint], name: str) -> VertexEndpoint | None:
    try:
        return get(name)
    except NotFoundError:
        return None


def _step(step: Callable[..., None], *args: str) -> bool:
    """Run one removal step: True if it removed something, False if it was gone already."""
    try:
        step(*args)
    except NotFoundError:
        return False
    return True
