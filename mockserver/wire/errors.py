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

RATE_LIMITS = {"requests": 10000, "tokens": 30000000}


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
    """A duration as the API writes rate-limit resets: `0s`, `120ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s"


@lru_cache(maxsize=1024)
def ratelimit_headers(remaining_requests: int, remaining_tokens: int, reset_seconds: float = 0.0) -> dict[str, str]:
    """The x-ratelimit-* headers; cached, so the same dict comes back for the same counts: copy, never change."""
    return {
        "x-ratelimit-limit-requests": str(RATE_LIMITS["requests"]),
        "x-ratelimit-limit-tokens": str(RATE_LIMITS["tokens"]),
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-remaining-tokens": str(remaining_tokens),
        "x-ratelimit-reset-requests": go_duration(reset_seconds) if reset_seconds else "6ms",
        "x-ratelimit-reset-tokens": go_duration(reset_seconds) if reset_seconds else "0s",
    }


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


def stream_ending(fault: Fault) -> bytes:
    """What a fault that ends a `data:`-only stream (chat, legacy completions) sends: an error event then
    `[DONE]`; nothing for a disconnect or a clean early end."""
    if fault.kind != "error":
        return b""
    return b"data: " + compact({"error": fault.error or MID_STREAM_ERROR}) + b"\n\ndata: [DONE]\n\n"


def scripted_error(reply: ErrorReply, model: str) -> ApiError:
    """A scenario's `error:` answer, with the real API's defaults for whatever the script left out."""
    message, type_, code = default_error(reply.status, reply.code)
    wait = reply.retry_after if isinstance(reply.retry_after, (int, float)) else None
    if reply.retry_after_ms is not None and wait is None:
        wait = reply.retry_after_ms / 1000
    if "message" in reply.given:
        message = reply.message or ""
    else:
        message = message.replace("{model}", model).replace("{wait}", go_duration(wait if wait is not None else 1.0))
    headers: dict[str, str] = {}
    if reply.status == 429:
        headers.update(ratelimit_headers(0, 0, wait if wait is not None else 1.0))
    elif reply.status != 404:  # a recorded 404 carries no rate-limit headers
        headers.update(ratelimit_headers(RATE_LIMITS["requests"] - 1, RATE_LIMITS["tokens"]))
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
