"""Cloud Storage JSON API errors, which are not google.rpc.Status: no ``status``, an ``errors`` list."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from reconciler.emulator.wire import ApiError

PRECONDITION_FAILED = "At least one of the pre-conditions you specified did not hold."


class StorageError(ApiError):
    """``{"error": {"code", "message", "errors": [{"message", "domain", "reason", ...}]}}``."""

    def __init__(self, code: int, message: str, *, reason: str, **where: str) -> None:
        super().__init__(code, message)
        self.reason = reason
        self.where = where

    def body(self) -> dict[str, Any]:
        item = {"message": self.message, "domain": "global", "reason": self.reason, **self.where}
        return {"error": {"code": self.code, "message": self.message, "errors": [item]}}


def no_such_object(bucket: str, name: str) -> StorageError:
    return StorageError(404, f"No such object: {bucket}/{name}", reason="notFound")


def precondition_failed() -> StorageError:
    return StorageError(
        412,
        PRECONDITION_FAILED,
        reason="conditionNotMet",
        locationType="header",
        location="If-Match",
    )


def invalid(message: str, *, reason: str = "invalid") -> StorageError:
    return StorageError(400, message, reason=reason)


class NotModified(ApiError):
    """A read whose ``ifGenerationNotMatch`` held: 304 with no body."""

    def __init__(self) -> None:
        super().__init__(304, "Not Modified")

    def response(self) -> Response:
        return Response(status_code=304)
