"""The Cloud Storage route table the gateway serves."""

from __future__ import annotations

from reconciler.emulator.gcs import resumable
from reconciler.emulator.gcs.handlers import (
    delete_object,
    download,
    get_bucket,
    get_object,
    list_objects,
    upload,
)

ROUTES = [
    ("POST", "/upload/storage/v1/b/{bucket}/o", upload),
    ("PUT", "/upload/storage/v1/b/{bucket}/o", resumable.put),
    ("DELETE", "/upload/storage/v1/b/{bucket}/o", resumable.cancel),
    ("GET", "/storage/v1/b/{bucket}", get_bucket),
    ("GET", "/storage/v1/b/{bucket}/o", list_objects),
    ("GET", "/storage/v1/b/{bucket}/o/{object}", get_object),
    ("DELETE", "/storage/v1/b/{bucket}/o/{object}", delete_object),
    ("GET", "/download/storage/v1/b/{bucket}/o/{object}", download),
]
