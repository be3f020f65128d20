"""The dataset objects a create stored for its tuning, as the state records them."""

from __future__ import annotations

from reconciler.applied import DatasetObject
from reconciler.live import OperationStatus


def dataset_objects(operation: OperationStatus) -> list[DatasetObject]:
    """What a create's answer says it stored (Vertex AI: Cloud Storage objects); [] elsewhere."""
    return [
        DatasetObject(
            role=d.role,
            uri=d.uri,
            generation=d.generation,
            md5Hash=d.md5_hash,
            crc32c=d.crc32c,
            size=d.size,
        )
        for d in operation.datasets
    ]
