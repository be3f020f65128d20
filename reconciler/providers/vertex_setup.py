"""Building the Vertex AI provider from a target: hosts, credentials, the clients it holds."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.api.google_tokens import vertex_credentials
from reconciler.api.vertex_client import VertexClient, vertex_endpoint
from reconciler.api.vertex_storage import STORAGE_ENDPOINT, StorageClient
from reconciler.providers.vertex import VertexProvider
from reconciler.target import BackendTarget


def open_vertex(
    *,
    target: BackendTarget,
    endpoint: str | None,
    api_key: str | None,
    access_token: str | None,
    user_project: str | None,
    request_timeout: float,
    notice: Callable[[str], None],
) -> VertexProvider:
    """The provider for ``target``; ``endpoint`` (an emulator) serves every API on one port."""
    assert target.project and target.location and target.dataset_bucket
    del api_key  # Vertex AI takes OAuth only: a GEMINI_API_KEY in the environment is not sent
    credentials = vertex_credentials(
        access_token=access_token, endpoint=endpoint, user_project=user_project
    )
    client = VertexClient(
        project=target.project,
        location=target.location,
        credentials=credentials,
        endpoint=endpoint,
        request_timeout=request_timeout,
        notice=notice,
    )
    storage = StorageClient(
        credentials=credentials, endpoint=endpoint or STORAGE_ENDPOINT, notice=notice
    )
    root = endpoint or vertex_endpoint(target.location)
    return VertexProvider(
        client=client,
        storage=storage,
        dataset_bucket=target.dataset_bucket,
        endpoint=f"{root.rstrip('/')}/v1/{client.parent}",
    )
