"""Resumable uploads over real HTTP: the session URI, chunks, status queries, cancel, limits."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.cloud import BUCKET, Served

KIB = 1024
CHUNK = 256 * KIB
UPLOAD = f"/upload/storage/v1/b/{BUCKET}/o"


def start(served: Served, name: str, **params: str) -> str:
    """Open a session; the path and query of the session URI."""
    reply = served.http.post(
        UPLOAD,
        params={"uploadType": "resumable", **params},
        json={"name": name, "metadata": {"source": "test"}},
        headers={"x-upload-content-type": "application/jsonl"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.content == b""
    location = urlsplit(reply.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == served.url
    query = parse_qs(location.query)
    assert query["uploadType"] == ["resumable"] and query["name"] == [name]
    assert query["upload_id"] == [reply.headers["x-guploader-uploadid"]]
    return f"{location.path}?{location.query}"


def put(served: Served, uri: str, body: bytes, content_range: str) -> httpx.Response:
    return served.http.put(uri, content=body, headers={"content-range": content_range})


def test_chunks_then_the_object(served: Served) -> None:
    data = bytes(range(256)) * (2 * CHUNK // 256) + b"tail"
    uri = start(served, "big/data.jsonl", ifGenerationMatch="0")
    total = len(data)
    first = put(served, uri, data[:CHUNK], f"bytes 0-{CHUNK - 1}/*")
    assert (first.status_code, first.headers["range"]) == (308, f"bytes=0-{CHUNK - 1}")
    # Nothing is stored until the last byte.
    assert served.http.get(f"/storage/v1/b/{BUCKET}/o/big%2Fdata.jsonl").status_code == 404
    status = put(served, uri, b"", f"bytes */{total}")
    assert (status.status_code, status.headers["range"]) == (308, f"bytes=0-{CHUNK - 1}")
    # A chunk re-sent from an earlier offset (its answer was lost): the overlap is skipped.
    second = put(served, uri, data[: CHUNK * 2], f"bytes 0-{2 * CHUNK - 1}/{total}")
    assert second.headers["range"] == f"bytes=0-{2 * CHUNK - 1}"
    last = put(served, uri, data[2 * CHUNK :], f"bytes {2 * CHUNK}-{total - 1}/{total}")
    assert last.status_code == 200
    resource: dict[str, Any] = last.json()
    assert resource["name"] == "big/data.jsonl" and resource["size"] == str(total)
    assert resource["contentType"] == "application/jsonl"
    assert resource["metadata"] == {"source": "test"}
    assert resource["md5Hash"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    stored = served.http.get(f"/download/storage/v1/b/{BUCKET}/o/big%2Fdata.jsonl")
    assert stored.content == data
    # Asking again after the end answers the object.
    assert put(served, uri, b"", f"bytes */{total}").json() == resource


def test_one_request_without_content_range(served: Served) -> None:
    uri = start(served, "small.jsonl")
    status = put(served, uri, b"", "bytes */*")
    assert status.status_code == 308 and "range" not in status.headers
    done = served.http.put(uri, content=b"hello")
    assert done.status_code == 200 and done.json()["size"] == "5"


@pytest.mark.parametrize(
    ("body", "content_range", "message"),
    [
        (
            b"x" * 10,
            "bytes 0-9/*",
            "A chunk other than the last must be a multiple of 262144 bytes, not 10.",
        ),
        (b"x" * 10, "bytes 0-19/20", "Content-Range bytes 0-19 does not match the 10 bytes sent."),
        (
            b"x" * CHUNK,
            f"bytes {CHUNK}-{2 * CHUNK - 1}/*",
            f"The chunk starts at byte {CHUNK}; 0 bytes are persisted.",
        ),
        (b"x", "bytes 0-0/0", "The chunk ends at byte 0, past the total of 0."),
        (b"x", "items 0-0/1", "Invalid Content-Range: items 0-0/1"),
        (b"x", "bytes */1", "Content-Range bytes */N carries no body."),
    ],
)
def test_bad_chunks_are_400(served: Served, body: bytes, content_range: str, message: str) -> None:
    uri = start(served, "bad.jsonl")
    reply = put(served, uri, body, content_range)
    assert reply.status_code == 400 and reply.json()["error"]["message"] == message


def test_preconditions_cancel_and_unknown_sessions(served: Served) -> None:
    served.upload("exists.jsonl", b"old")
    refused = served.http.post(
        UPLOAD,
        params={"uploadType": "resumable", "name": "exists.jsonl", "ifGenerationMatch": "0"},
    )
    assert refused.status_code == 412
    # Checked again at the end: the object appeared while the upload went on.
    uri = start(served, "late.jsonl", ifGenerationMatch="0")
    served.upload("late.jsonl", b"written meanwhile")
    assert put(served, uri, b"mine", "bytes 0-3/4").status_code == 412
    assert served.http.get(f"/download/storage/v1/b/{BUCKET}/o/late.jsonl").content == (
        b"written meanwhile"
    )
    uri = start(served, "cancelled.jsonl")
    assert served.http.delete(uri).status_code == 499
    gone = put(served, uri, b"", "bytes */*")
    assert gone.status_code == 404 and gone.json()["error"]["errors"][0]["reason"] == "notFound"
    other = served.http.put(f"{UPLOAD}?uploadType=resumable&upload_id=nope", content=b"")
    assert other.status_code == 404


def test_declared_length_is_held_to(served: Served) -> None:
    reply = served.http.post(
        UPLOAD,
        params={"uploadType": "resumable", "name": "d.jsonl"},
        headers={"x-upload-content-length": "4"},
    )
    location = urlsplit(reply.headers["location"])
    uri = f"{location.path}?{location.query}"
    wrong = put(served, uri, b"abcde", "bytes 0-4/5")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["message"] == (
        "The upload was started with X-Upload-Content-Length 4, not 5."
    )
    assert put(served, uri, b"abcd", "bytes 0-3/4").status_code == 200
    too_big = served.http.post(
        UPLOAD,
        params={"uploadType": "resumable", "name": "huge"},
        headers={"x-upload-content-length": str(2**40)},
    )
    assert too_big.status_code == 400
