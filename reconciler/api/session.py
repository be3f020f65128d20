"""One HTTP exchange with retries: the only module that touches httpx requests.

``ApiSession.call`` sends a request, retries what is worth retrying (see
``retry.py``), logs each attempt at INFO on ``reconciler.api`` (method, path,
status, milliseconds, attempt; never the query string or a credential), and
either returns the decoded JSON object or raises an ``ApiError``. It is safe
to use from many threads at once: httpx's connection pool is, and the
counters here take a lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reconciler.api.credentials import (
    BearerAuth,
    Credentials,
    SentTokens,
    check_endpoint,
    is_local_endpoint,
)
from reconciler.api.deadline import SlowWatch, deadline_transport, request_deadline
from reconciler.api.failures import (
    deadline_error,
    error_for_exception,
    error_for_response,
    is_fixable_by_retrying,
    is_retryable_exception,
    may_have_taken_effect,
    parse_status,
    scrub,
)
from reconciler.api.redact import LOGGER_NAME, protect
from reconciler.api.retry import (
    RETRYABLE_STATUS,
    RetryBudget,
    RetryPolicy,
    parse_retry_after,
    retry_info_delay,
)
from reconciler.errors import AlreadyExistsError, ApiError

API_VERSION = "v1beta"
USER_AGENT = "reconciler (httpx)"

# The longest one call may take, its retries included (--request-timeout).
DEFAULT_REQUEST_TIMEOUT_SECONDS = 180.0

# A request still waiting after this long (or half its deadline, if shorter) is
# named on stderr, and again every SLOW_NOTICE_EVERY_SECONDS while it waits.
SLOW_NOTICE_AFTER_SECONDS = 5.0
SLOW_NOTICE_EVERY_SECONDS = 15.0

log = logging.getLogger(LOGGER_NAME)

Params = Mapping[str, str | int]


@dataclass(frozen=True)
class Reply:
    """A successful answer, or a tolerated error status (see ``ApiSession.call``)."""

    status: int
    data: dict[str, Any]
    # An earlier attempt of this call failed in a way that may have taken
    # effect on the server (a 5xx, or a connection lost after sending).
    earlier_attempt_uncertain: bool = False
    # The answer's headers, names in lower case (a resumable upload's Location, Range).
    headers: Mapping[str, str] = field(default_factory=dict)


class ApiSession:
    """Sends requests under ``{endpoint}/v1beta/`` with credentials, retries and logging.

    ``api_version`` changes that prefix (``v1`` for Vertex AI, ``""`` for Cloud
    Storage, whose paths carry their own).
    """

    def __init__(
        self,
        *,
        endpoint: str,
        credentials: Credentials,
        transport: httpx.BaseTransport | None,
        retry: RetryPolicy,
        connect_timeout: float,
        read_timeout: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
        max_connections: int,
        notice: Callable[[str], None] | None = None,
        api_version: str = API_VERSION,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        auth_hint: str | None = None,
    ) -> None:
        base = check_endpoint(endpoint)
        self._credentials = credentials
        # What to check after a 401 or 403, where the Gemini API's (an API key) does not apply.
        self._auth_hint = auth_hint
        # The credential's own secrets, and every token a token source gives us later.
        self._tokens = SentTokens(credentials.secrets())
        protect(*credentials.secrets())
        self._retry = retry
        self._budget = RetryBudget(retry.budget)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._rng_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._notice = notice
        self._watch = (
            None
            if notice is None
            else SlowWatch(
                notice=notice,
                after=min(SLOW_NOTICE_AFTER_SECONDS, request_timeout / 2),
                every=SLOW_NOTICE_EVERY_SECONDS,
                limit=request_timeout,
            )
        )
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        real_network = transport is None
        # Plain HTTP to a loopback emulator never does TLS (no redirects are
        # followed): skip loading the CA bundle, a fifth of a command's start-up.
        verify = not (base.startswith("http://") and is_local_endpoint(base))
        if transport is None:
            transport = deadline_transport(verify=verify, limits=limits, trust_env=True)
        self._http = httpx.Client(
            base_url=f"{base}/{api_version}/" if api_version else f"{base}/",
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=limits,
            headers={"user-agent": USER_AGENT, **credentials.headers()},
            auth=None
            if credentials.token_source is None
            else BearerAuth(credentials.token_source, self._token_sent),
            follow_redirects=False,
            trust_env=real_network,
            verify=verify,
        )
        # The path prefix that precedes every resource path, for messages and logs.
        self._prefix = self._http.base_url.raw_path.decode("ascii")
        # Named in connection errors: scheme, host and port only (never userinfo).
        url = self._http.base_url
        host_port = url.netloc.decode("ascii").rsplit("@", 1)[-1]
        self._endpoint = f"{url.scheme}://{host_port}"
        self._local = is_local_endpoint(base)
        # A loopback endpoint that refuses connections before it ever answered
        # is an emulator that is not running: no point retrying for 20 s.
        self._answered = False

    @property
    def endpoint(self) -> str:
        """The base URL requests go to (``scheme://host:port/prefix/v1beta/``), without userinfo."""
        return self._endpoint + self._prefix

    @property
    def request_count(self) -> int:
        """HTTP attempts made so far (retries included)."""
        with self._count_lock:
            return self._requests

    @property
    def retry_count(self) -> int:
        """Retries made so far (spent from the client's shared budget)."""
        with self._count_lock:
            return self._retries

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        raw: tuple[bytes, str] | None = None,
        tolerate_after_uncertain: frozenset[int] = frozenset(),
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send ``method path`` (relative to ``v1beta/``) until it succeeds or retries run out.

        ``raw`` sends ``(bytes, media type)`` as the body instead of JSON;
        ``headers`` are added to the request's (never a credential: those are set here).

        ``tolerate_after_uncertain``: error statuses that, met after an earlier
        attempt may have taken effect, are returned as a ``Reply`` instead of
        raised (a DELETE's 404, a create's 409): the caller decides what the
        lost answer meant.
        """
        shown_path = self._prefix + path
        content = None if body is None else json.dumps(body).encode("utf-8")
        sent = {"content-type": "application/json"} if content is not None else {}
        if raw is not None:  # (bytes, media type): an upload that is not JSON
            content, sent = raw[0], {"content-type": raw[1]}
        sent.update(headers or {})
        attempt = 0
        waited = 0.0
        uncertain = False
        # The whole call, retries included, ends by this (real) time.
        deadline = time.monotonic() + self._request_timeout
        while True:
            attempt += 1
            with self._count_lock:
                self._requests += 1
            started = self._clock()
            try:
                with (
                    self._watching(f"{method} {shown_path} from {self._endpoint}"),
                    request_deadline(deadline),
                ):
                    response = self._http.request(
                        method,
                        path,
                        params=params,
                        content=content,
                        headers=sent or None,
                        timeout=self._attempt_timeout(deadline),
                    )
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                elapsed = (self._clock() - started) * 1000
                error = error_for_exception(
                    exc, method=method, path=shown_path, endpoint=self._endpoint, local=self._local
                )
                log.info(
                    "%s %s -> %s in %.0f ms (attempt %d)",
                    method, shown_path, type(exc).__name__, elapsed, attempt,
                )  # fmt: skip
                if isinstance(exc, httpx.TimeoutException) and _spent(deadline):
                    raise deadline_error(
                        method=method,
                        path=shown_path,
                        endpoint=self._endpoint,
                        seconds=self._request_timeout,
                    ) from exc
                if not is_retryable_exception(exc) or not is_fixable_by_retrying(
                    exc, local=self._local
                ):
                    raise error from exc
                if self._local and not self._answered and isinstance(exc, httpx.ConnectError):
                    raise error from exc
                delay = self._next_delay(
                    attempt=attempt, waited=waited, hint=None, deadline=deadline
                )
                if delay is None:
                    raise error from exc
                uncertain = uncertain or may_have_taken_effect(exc, None)
            else:
                elapsed = (self._clock() - started) * 1000
                self._answered = True
                status = response.status_code
                log.info(
                    "%s %s -> %d in %.0f ms (attempt %d)",
                    method, shown_path, status, elapsed, attempt,
                )  # fmt: skip
                if status < 400:
                    return Reply(
                        status=status,
                        data=self._decode(response, method=method, path=shown_path),
                        earlier_attempt_uncertain=uncertain,
                        headers={k.lower(): v for k, v in response.headers.items()},
                    )
                if uncertain and status in tolerate_after_uncertain:
                    return Reply(status=status, data={}, earlier_attempt_uncertain=True)
                error = self._error(response, method=method, path=shown_path)
                if isinstance(error, AlreadyExistsError):
                    error.after_retry = uncertain
                delay = None
                if status in RETRYABLE_STATUS:
                    delay = self._next_delay(
                        attempt=attempt, waited=waited, hint=error.retry_after, deadline=deadline
                    )
                if delay is None:
                    raise error from _status_error(response, scrub=self.redact)
                uncertain = uncertain or may_have_taken_effect(None, status)
            log.info("retrying %s %s in %.2f s", method, shown_path, delay)
            if self._notice is not None:
                self._notice(
                    self.redact(
                        f"Retrying {method} {shown_path} in {delay:.1f} s "
                        f"(attempt {attempt + 1} of {self._retry.max_attempts}): {_short(error)}"
                    )
                )
            waited += delay
            self._sleep(delay)

    def _watching(self, what: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if self._watch is None else self._watch.watch(what)

    def _attempt_timeout(self, deadline: float) -> httpx.Timeout:
        """httpx's per-operation timeouts, none longer than what is left of the call."""
        left = max(deadline - time.monotonic(), 0.001)
        read = min(self._read_timeout, left)
        return httpx.Timeout(read, connect=min(self._connect_timeout, left), pool=left)

    def _next_delay(
        self, *, attempt: int, waited: float, hint: float | None, deadline: float
    ) -> float | None:
        """The wait before the next attempt, or None when this call must give up."""
        if attempt >= self._retry.max_attempts:
            return None
        with self._rng_lock:
            delay = self._retry.backoff(retry_number=attempt, rng=self._rng)
        if hint is not None:
            delay = max(delay, hint)
        if waited + delay > self._retry.max_total_delay:
            return None
        if time.monotonic() + delay >= deadline:
            return None
        if not self._budget.take():
            log.warning("retry budget of this run is spent; not retrying")
            return None
        with self._count_lock:
            self._retries += 1
        return delay

    def _error(self, response: httpx.Response, *, method: str, path: str) -> ApiError:
        status = parse_status(response.content)
        hints = [parse_retry_after(response.headers.get("retry-after"))]
        if status is not None and isinstance(status.get("details"), list):
            hints.append(retry_info_delay([d for d in status["details"] if isinstance(d, dict)]))
        known = [h for h in hints if h is not None]
        error = error_for_response(
            response,
            method=method,
            path=path,
            retry_after=max(known) if known else None,
            secrets=self._tokens.all(),
        )
        if self._auth_hint and error.code in (401, 403):
            error.hint = self._auth_hint
        return error

    def _decode(self, response: httpx.Response, *, method: str, path: str) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(
                "the answer was not JSON", code=response.status_code, method=method, path=path
            ) from exc
        if not isinstance(data, dict):
            raise ApiError(
                f"expected a JSON object, got {type(data).__name__}",
                code=response.status_code,
                method=method,
                path=path,
            )
        return data

    def redact(self, text: str) -> str:
        """``text`` with this session's secrets masked."""
        return scrub(text, self._tokens.all())

    def _token_sent(self, token: str) -> None:
        if self._tokens.add(token):
            protect(token)


# A timeout this close to the call's deadline is the deadline itself.
_DEADLINE_SLACK_SECONDS = 0.1

# Longest server text quoted in a retry line (the error itself keeps more).
_NOTICE_MAX_CHARS = 160


def _spent(deadline: float) -> bool:
    return deadline - time.monotonic() <= _DEADLINE_SLACK_SECONDS


def _short(error: ApiError) -> str:
    """What went wrong with an attempt, on one short line (already scrubbed of secrets)."""
    label = f"{error.code or ''} {error.status}".strip()
    text = " ".join(error.api_message.split())
    text = f"{label}: {text}" if label else text
    return text if len(text) <= _NOTICE_MAX_CHARS else text[: _NOTICE_MAX_CHARS - 1] + "…"


def _status_error(
    response: httpx.Response, *, scrub: Callable[[str], str]
) -> httpx.HTTPStatusError:
    """An httpx error to chain from, so ``-v`` tracebacks show the HTTP exchange.

    The reason phrase is the server's text and may echo the key: scrubbed.
    """
    request = response.request
    message = scrub(
        f"{response.status_code} {response.reason_phrase} for {request.method} {request.url.path}"
    )
    return httpx.HTTPStatusError(message, request=request, response=response)
