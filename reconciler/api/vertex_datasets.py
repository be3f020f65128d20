"""A Dataset as Vertex AI tunes on it: ``contents`` JSONL, stored content-addressed.

The JSONL is a pure function of the examples, and the object is named by the
SHA-256 of its bytes (``gs://bucket/prefix/<sha256>.jsonl``), so staging the
same dataset twice writes nothing the second time, a changed dataset gets a
new object (and so a new ``trainingDatasetUri`` the plan can see), and the
generation and checksums read back prove the stored bytes are ours.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.api.vertex_storage import ObjectInfo, StorageClient
from reconciler.errors import ApiError, UsageError
from reconciler.spec import Example

JSONL_MEDIA_TYPE = "application/jsonl"


@dataclass(frozen=True)
class StagedDataset:
    """Where a dataset was stored and what identifies that stored version."""

    uri: str
    sha256: str
    generation: int
    md5_hash: str
    crc32c: str
    size: int
    example_count: int


def contents_jsonl(examples: Sequence[Example]) -> bytes:
    """One ``{"contents": [user turn, model turn]}`` line per example. Pure."""
    lines = [
        json.dumps(
            {
                "contents": [
                    {"role": "user", "parts": [{"text": e.text_input}]},
                    {"role": "model", "parts": [{"text": e.output}]},
                ]
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for e in examples
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def split_location(location: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix`` -> (``bucket``, ``some/prefix``); the prefix may be empty."""
    bucket, _, prefix = location.removeprefix("gs://").partition("/")
    if not location.startswith("gs://") or not bucket:
        raise UsageError(
            f"invalid dataset bucket {location!r}: expected gs://BUCKET or gs://BUCKET/PREFIX"
        )
    return bucket, prefix.strip("/")


def object_name(prefix: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{prefix}/{digest}.jsonl" if prefix else f"{digest}.jsonl"


def stage_dataset(
    storage: StorageClient, *, location: str, examples: Sequence[Example]
) -> StagedDataset:
    """Store the dataset's JSONL under ``location`` unless it is there already."""
    bucket, prefix = split_location(location)
    data = contents_jsonl(examples)
    name = object_name(prefix, data)
    stored = storage.get(bucket, name)
    if stored is None:
        stored = storage.upload_if_absent(bucket, name, data, content_type=JSONL_MEDIA_TYPE)
        if stored is None:  # written meanwhile, by us (a lost answer) or a concurrent run
            stored = storage.get(bucket, name)
        if stored is None:
            raise ApiError(f"gs://{bucket}/{name} was refused as existing, then not found")
    _check_contents(stored, data)
    return StagedDataset(
        uri=stored.uri,
        sha256=hashlib.sha256(data).hexdigest(),
        generation=stored.generation,
        md5_hash=stored.md5_hash,
        crc32c=stored.crc32c,
        size=stored.size,
        example_count=len(examples),
    )


def _check_contents(stored: ObjectInfo, data: bytes) -> None:
    expected = base64.b64encode(hashlib.md5(data).digest()).decode()
    if stored.md5_hash != expected or stored.size != len(data):
        raise ApiError(
            f"{stored.uri} holds other bytes than its name promises (md5 {stored.md5_hash}, "
            f"expected {expected})",
            hint="it is named by the SHA-256 of its content: something outside reconciler "
            "rewrote it; delete the object and apply again",
        )
