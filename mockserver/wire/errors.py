"""Error answers in the real API's envelope, with its default messages, types, codes and headers.

`{"error": {"message", "type", "param", "code"}}` — all four keys always present, as the SDKs expect.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from http import HTTPStatus
from typing import Any, NamedTuple

from aiohttp import web

from ..scenario.model import MID_STREAM_ERROR, ErrorReply, Fault
from .encode import compact

# status -> (message, type, code). "{model}" is replaced by the request's model.
DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"),
    404: (
        "The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    408: ("Request timed out.", "invalid_request_error", "timeout"),
    409: ("The request conflicts with another request in progress; try again.", "invalid_request_error", "conflict"),
    422: ("The request could not be processed.", "invalid_request_error", "unprocessable_entity"),
    429: (
        "Rate limit reached for {model} in organization org-mockserver on requests per min (RPM): Limit 10000, "
        "Used 10000, Requested 1. Please try again in {wait}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: (
        "That model is currently overloaded with other requests. You can retry your request, or contact us through "
        "our help center at help.openai.com if the error persists.",
        "server_error",
        None,
    ),
}
QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)

# The limits answers report when no quota applies: generous, and never enforced.
RATE_LIMITS = {"requests": 10000, "tokens": 30000000}

# status (and code) -> (message, type, code, param) of a failure inside a stream that has already answered 200:
# the bodies the real API sends there (`{model}` and `{wait}` filled in) differ from its HTTP errors'.
STREAM_FAILURES: dict[tuple[int, str | None], tuple[str, str, str | None, str | None]] = {
    (429, "insufficient_quota"): (QUOTA_MESSAGE, "insufficient_quota", "insufficient_quota", None),
    (429, None): (
        "Rate limit reached for {model} in organization org-mockserver on tokens per min (TPM): Limit 30000, "
        "Used 29937, Requested 385. Please try again in {wait}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "tokens",
        "rate_limit_exceeded",
        None,
    ),
    (503, None): (
        "Our servers are currently overloaded. Please try again later.",
        "service_unavailable_error",
        "server_is_overloaded",
        None,
    ),
    (400, "context_length_exceeded"): (
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "invalid_request_error",
        "context_length_exceeded",
        "input",
    ),
    (500, None): (MID_STREAM_ERROR["message"], "server_error", None, None),
}


def default_error(status: int, code: str | None = None) -> tuple[str, str, str | None]:
    """The real API's (message, type, code) for a status; other statuses get their HTTP reason phrase."""
    if status == 429 and code == "insufficient_quota":
        return QUOTA_MESSAGE, "insufficient_quota", "insufficient_quota"
    if status in DEFAULT_ERRORS:
        return DEFAULT_ERRORS[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"{phrase}.", "server_error" if status >= 500 else "invalid_request_error", None


def go_duration(seconds: float) -> str:
    """A duration as the API writes rate-limit resets and waits, truncated to whole milliseconds: `0s`, `20ms`,
    `8.64s`, `1m26.4s`, `6m0s`, `1h0m0s` (never `0ms`)."""
    return _duration(int(round(seconds * 1000, 6)))


@lru_cache(maxsize=4096)
def _duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms}ms" if ms > 0 else "0s"
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    text = f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


class Counts(NamedTuple):
    """What an answer's x-ratelimit-* headers say: for requests and for tokens, the limit, what remains of it,
    and the seconds until it is whole again. (A named tuple: one is made for every request.)"""

    limit_requests: int = RATE_LIMITS["requests"]
    remaining_requests: int = RATE_LIMITS["requests"]
    reset_requests: float = 0.0
    limit_tokens: int = RATE_LIMITS["tokens"]
    remaining_tokens: int = RATE_LIMITS["tokens"]
    reset_tokens: float = 0.0

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.limit_requests),
            "x-ratelimit-limit-tokens": str(self.limit_tokens),
            "x-ratelimit-remaining-requests": str(self.remaining_requests),
            "x-ratelimit-remaining-tokens": str(self.remaining_tokens),
            "x-ratelimit-reset-requests": go_duration(self.reset_requests),
            "x-ratelimit-reset-tokens": go_duration(self.reset_tokens),
        }

    def exhausted(self, wait: float) -> dict[str, str]:
        """The headers of a 429: nothing remains, and both counts come back in `wait` seconds."""
        return self._replace(remaining_requests=0, remaining_tokens=0, reset_requests=wait, reset_tokens=wait).headers()


def retry_headers(retry_after: float) -> dict[str, str]:
    """`retry-after-ms` carries the exact wait (read first by the SDKs), `retry-after` whole seconds rounded up."""
    return {"retry-after": str(math.ceil(retry_after)), "retry-after-ms": f"{retry_after * 1000:g}"}


class ApiError(Exception):
    """An error answer: raised anywhere while handling a request, rendered by the app's middleware."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}  # more keys of the error object, after the four the SDKs read
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers)
        # For a request with an unknown parameter as well: the 400 for it, which the real API reports first.
        self.unknown_parameter: ApiError | None = None

    def body(self) -> bytes:
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code, **self.details}
        try:
            return json.dumps({"error": error}, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # text from a request that is not valid Unicode: escaped, the body still goes
            return json.dumps({"error": error}).encode()

    def response(self, extra_headers: Mapping[str, str]) -> web.Response:
        return web.Response(
            status=self.status,
            body=self.body(),
            content_type="application/json",
            headers={**extra_headers, **self.headers},
        )


def invalid(
    message: str,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
    details: Mapping[str, object] | None = None,
) -> ApiError:
    """A request the real API would reject as invalid."""
    return ApiError(status, message, "invalid_request_error", param, code, details=details)


def missing(param: str) -> ApiError:
    """The real API's 400 for a required parameter that is absent."""
    return invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def stream_ending(fault: Fault, model: str) -> bytes:
    """What a fault that ends a `data:`-only stream (chat, legacy completions) sends: an error event then
    `[DONE]`; nothing for a disconnect or a clean early end."""
    if fault.kind != "error":
        return b""
    return b"data: " + compact({"error": fault_error(fault, model)}) + b"\n\ndata: [DONE]\n\n"


def fault_error(fault: Fault, model: str) -> Mapping[str, Any]:
    """The error object of an error fault, `{message, type, param, code}`: as scripted, or — for one scripted
    with a `status` — that status's failure as the real API sends it inside a stream, with what the script gave
    in its place."""
    if fault.status is None:
        return fault.error or MID_STREAM_ERROR
    given = fault.error or {}
    message, type_, code, param = STREAM_FAILURES.get(
        (fault.status, given.get("code")), STREAM_FAILURES.get((fault.status, None), (None, None, None, None))
    )
    if message is None or type_ is None:
        message, type_, code = default_error(fault.status, given.get("code"))
    error = {"message": _filled(message, model, 1.0), "type": type_, "param": param, "code": code}
    return {**error, **given}


def fault_reply(fault: Fault, model: str) -> ErrorReply:
    """An error fault as the HTTP error a request that does not stream gets in its place: the same error with its
    status, or a 500 with the scripted error."""
    error = fault_error(fault, model)
    return ErrorReply(fault.status or 500, **error, given=frozenset(error))


def _filled(message: str, model: str, wait: float) -> str:
    return message.replace("{model}", model).replace("{wait}", go_duration(wait))


def scripted_error(reply: ErrorReply, model: str, counts: Counts | None = None) -> ApiError:
    """A scenario's `error:` answer, with the real API's defaults for whatever the script left out. `counts` are
    the request's rate-limit counts (None: an endpoint that reports none)."""
    message, type_, code = default_error(reply.status, reply.code)
    wait = reply.retry_after if isinstance(reply.retry_after, (int, float)) else None
    if reply.retry_after_ms is not None and wait is None:
        wait = reply.retry_after_ms / 1000
    if "message" in reply.given:
        message = reply.message or ""
    else:
        message = _filled(message, model, wait if wait is not None else 1.0)
    headers: dict[str, str] = {}
    if counts is not None and reply.status == 429:
        headers.update(counts.exhausted(wait if wait is not None else 1.0))
    elif counts is not None and reply.status != 404:  # a recorded 404 carries no rate-limit headers
        headers.update(counts.headers())
    if isinstance(reply.retry_after, str):  # an HTTP date, sent as it is
        headers["retry-after"] = reply.retry_after
    elif reply.retry_after is not None:
        headers.update(retry_headers(reply.retry_after))
    if reply.retry_after_ms is not None:
        headers["retry-after-ms"] = f"{reply.retry_after_ms:g}"
    headers.update(reply.headers)
    return ApiError(
        reply.status,
        message,
        reply.type if "type" in reply.given and reply.type else type_,
        reply.param if "param" in reply.given else None,
        reply.code if "code" in reply.given else code,
        headers,
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """How long these headers ask a client to wait, read as the SDKs read them: `retry-after-ms` first, then
    `retry-after` as seconds or as an HTTP date."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / divisor
            except ValueError:
                pass
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None


def not_found(kind: str, key: str) -> ApiError:
    """The real API's 404 for a stored object it does not have: `Response with id 'resp_x' not found.`"""
    return invalid(f"{kind} with id '{key}' not found.", status=404)


def previous_response_not_found(key: str) -> ApiError:
    return invalid(
        f"Previous response with id '{key}' not found.", "previous_response_id", "previous_response_not_found"
    )


def mutually_exclusive() -> ApiError:
    """`previous_response_id` and `conversation` together: verbatim as the real API says it, the empty quotes
    and the shortened name included."""
    return invalid(
        "Mutually exclusive parameters: ''. Ensure you are only providing one of: 'pre..._id' or 'conversation'.",
        code="mutually_exclusive_parameters",
    )
