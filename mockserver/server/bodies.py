"""Reading request bodies: on time, decompressed within the size limit, and parsed as the real API parses JSON.

aiohttp's own decompression is turned off (see `protocol.py`): a body it cannot decode would otherwise be a 500
with a traceback, or — for an encoding it does not know — a plain-text 400 that is not the API's envelope.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..scenario.problems import short
from ..wire import params
from ..wire.errors import ApiError, invalid
from .state import STATE

MAX_BODY = 10 * 1024 * 1024
# Reading and parsing a body takes up to about five times its size for a moment (seven for text beyond Latin-1):
# bodies over LARGE_BODY (or of unknown size) take their turn, a few at a time (`State.large_bodies`), so that no
# number of large requests arriving together can exhaust memory. The others, the usual kilobytes, never wait.
LARGE_BODY = 1024 * 1024
BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble "
    "figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def too_large() -> ApiError:
    return invalid(f"Request body too large: the limit is {MAX_BODY} bytes (10 MiB).", status=413)


async def read_body(request: web.Request) -> bytes:
    """The body, decompressed; a 408 when it does not arrive within the body timeout (the connection is then
    closed: the rest of the body may still be on its way)."""
    timeout = request.app[STATE].settings.body_timeout
    try:
        if request.content.is_eof():  # all of it came with the headers: no wait, so no timer (and no task) for it
            raw = await request.read()
        else:
            raw = await asyncio.wait_for(request.read(), timeout or None)
    except asyncio.TimeoutError:
        _close_after_answer(request)
        raise ApiError(
            408, f"Request timed out: the body did not arrive within {timeout:g} s.", code="timeout"
        ) from None
    except (web.RequestPayloadError, HttpProcessingError):
        _close_after_answer(request)
        raise invalid("The request body could not be read: it ended early, or its chunked framing is broken.") from None
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in _ENCODINGS:
        raise invalid(
            f"Unsupported Content-Encoding {short(encoding)}: send the body as it is, or as gzip or deflate.",
            code="unsupported_content_encoding",
        )
    return _decompress(raw, encoding)


def _close_after_answer(request: web.Request) -> None:
    """Close the connection once the error answer is sent, without reading on: the rest of a body that came too
    slowly (or broken) is not waited for."""
    request.protocol.close()
    request.content.feed_eof()


def _decompress(raw: bytes, encoding: str) -> bytes:
    """A gzip or deflate body, never more than MAX_BODY once decompressed; deflate as HTTP means it (a zlib
    stream) or raw, as some clients send it."""
    wbits = _ENCODINGS[encoding]
    if encoding == "deflate" and raw and raw[0] & 0x0F != 8:  # no zlib header: raw deflate
        wbits = -zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    try:
        body = decompressor.decompress(raw, MAX_BODY + 1)
        whole = decompressor.eof and not decompressor.unused_data
    except zlib.error:
        body, whole = b"", False
    if len(body) > MAX_BODY:
        raise too_large()
    if not whole:
        raise invalid(
            f"We could not decompress the body of your request: it is not a whole {encoding} stream.",
            code="invalid_content_encoding",
        )
    return body


class _Duplicate(ValueError):
    """A JSON object with a key given twice."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Duplicate("a key is given twice in an object")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e309: it could never be written back as JSON
        raise ValueError(f"{text} is too large a number")
    return value


# Made once: `json.loads` with hooks builds a decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=_unique)
# Objects and arrays nested deeper than this are refused: the answer's encoders and the schema walkers recurse, and
# a body nested as deep as the parser goes could not be written back.
MAX_DEPTH = 128
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_json(raw: bytes) -> Any:
    """JSON as the real API reads it: UTF-8 only; NaN and Infinity are not JSON; a string holding half of a
    surrogate pair cannot be text (it could never be answered, or journaled, as UTF-8); a key given twice in an
    object is refused (`duplicate_key()` says where). Raises ValueError (and its subclasses), also for a body nested
    deeper than the parser goes, so that every caller's one `except ValueError` refuses it."""
    text = raw.decode("utf-8")
    try:
        body = _DECODER.decode(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    if (
        isinstance(body, (dict, list))
        and text.count("[") + text.count("{") > MAX_DEPTH
        and _deeper_than(body, MAX_DEPTH)
    ):
        raise ValueError("the JSON is nested too deeply")
    if _ESCAPED_SURROGATE.search(text):  # rare: check the decoded text only when an escaped surrogate is there
        json.dumps(body, ensure_ascii=False).encode()
    return body


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def duplicate_key(raw: bytes) -> tuple[str, str] | None:
    """The first key given twice in a JSON body (in reading order), with where it is: `('role',
    'messages[0].role')`. Only called on a body `parse_json` refused."""
    try:
        tree = json.loads(raw, object_pairs_hook=lambda pairs: pairs)
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[Any, str]] = [(tree, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, list) and all(isinstance(pair, tuple) for pair in value):  # an object, as pairs
            seen: set[str] = set()
            children = []
            for key, item in value:
                where = f"{path}.{key}" if path else key
                if key in seen:
                    return key, where
                seen.add(key)
                children.append((item, where))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(item, f"{path}[{index}]") for index, item in enumerate(value)]))
    return None


async def read_object(request: web.Request, keep: Callable[[bytes], None]) -> dict[str, Any]:
    """The body's JSON object (`keep` sees its bytes first, for the journal); the real API's 400s otherwise."""
    length = request.content_length
    if length is not None and length <= LARGE_BODY:
        raw = await read_body(request)
        keep(raw)
        return parse_object(raw)
    async with request.app[STATE].large_bodies:
        raw = await read_body(request)
        keep(raw)
        return parse_object(raw)


def parse_object(raw: bytes) -> dict[str, Any]:
    """A request's JSON object; the real API's 400s otherwise."""
    try:
        body = parse_json(raw)
    except _Duplicate:
        key, where = duplicate_key(raw) or ("?", "?")
        raise invalid(
            f"Invalid body: duplicate JSON key '{key}' at '{where}'. Duplicate JSON keys are not supported.",
            code="invalid_json",
        ) from None
    except ValueError:
        raise invalid(BAD_JSON) from None
    if not isinstance(body, dict):
        raise invalid(
            f"Invalid body: expected a JSON object, but got {params.type_name(body)} instead.", code="invalid_type"
        )
    return body
