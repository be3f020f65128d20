"""``multipart/related`` upload bodies: one JSON metadata part, then the object's bytes.

google-cloud-storage (through google-resumable-media) sends exactly two parts,
each with its own ``content-type`` header, separated by a quoted boundary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
MAX_PART_HEADER_BYTES = 8192


class MultipartError(ValueError):
    """The body is not the two-part ``multipart/related`` an upload must be."""


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]
    data: bytes


def boundary_of(content_type: str) -> str:
    if not content_type.lower().startswith("multipart/related"):
        raise MultipartError("a multipart upload must be sent as multipart/related")
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise MultipartError("the multipart/related content type names no boundary")
    return found.group(1) or found.group(2)


def parse(body: bytes, content_type: str) -> list[Part]:
    """The parts between ``--boundary`` lines, up to the closing ``--boundary--``."""
    delimiter = b"--" + boundary_of(content_type).encode()
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MultipartError("the multipart body is not closed by its boundary")
    parts = []
    for chunk in chunks[1:-1]:
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            # A part with no headers starts straight after an empty line.
            if chunk.startswith(b"\r\n"):
                head, data = b"", chunk[2:]
            else:
                raise MultipartError("a multipart part has no blank line after its headers")
        if len(head) > MAX_PART_HEADER_BYTES:
            raise MultipartError("a multipart part's headers are too long")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        parts.append(Part(headers, data))
    return parts
