"""Credentials: the API key and admin token checks, and the headers the journal must not keep.

Keys are compared in constant time, so the time of a 401 says nothing about how much of a guess was right.
Header values are text only when they are UTF-8: the HTTP parser keeps other bytes as lone surrogates, which
no answer, journal or log line could carry, so such a value is refused before anything reads it.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from functools import lru_cache

from multidict import CIMultiDictProxy

from ..wire.errors import ApiError, invalid

NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
    "(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys."
)
# Headers that carry a credential, or say whose account a request is for: the journal shows that they were sent,
# never their values. `api-key` is the header Azure OpenAI clients send the key in.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
    }
)
# Other names that say so: `x-goog-api-key`, `x-amz-security-token`, `x-forwarded-authorization`...
_CREDENTIAL_NAME = re.compile(r"(?:^|-)(?:api-?key|token|secret|password|passwd|credentials?|auth|authorization)$")
REDACTED = "[redacted]"
# The headers mockserver reads itself.
READ_HEADERS = ("Authorization", "X-Mock-Session", "X-Mock-Scenario")


def is_text(value: str) -> bool:
    """Whether a header value came as UTF-8 (the parser turns other bytes into lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_header_text(headers: CIMultiDictProxy[str]) -> None:
    """A 400 for a header mockserver reads whose value is not UTF-8 text."""
    for name in READ_HEADERS:
        value = headers.get(name)
        if value is not None and not is_text(value):
            raise invalid(f"The {name} header is not valid UTF-8 text.", code="invalid_header")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def _mask(key: str) -> str:
    return f"{key[:3]}{'*' * max(len(key) - 7, 3)}{key[-4:]}" if len(key) > 8 else "*" * len(key)


def check_key(header: str | None, key: str) -> None:
    """The real API's 401s for a missing or wrong `Authorization: Bearer KEY`."""
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(401, NO_KEY, code="invalid_api_key")
    given = header[7:].strip()
    if not _same(given, key):
        raise ApiError(
            401,
            f"Incorrect API key provided: {_mask(given)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )


def check_admin(header: str | None, token: str | None) -> None:
    if token is not None and not _same(header or "", f"Bearer {token}"):
        raise ApiError(
            401,
            "The control API needs 'Authorization: Bearer TOKEN' with the server's --admin-token.",
            code="invalid_admin_token",
        )


@lru_cache(maxsize=256)  # the same few names come with every request; a client's own names are bounded in size
def is_credential(name: str) -> bool:
    """Whether a (lower-case) header name carries a credential."""
    return name in CREDENTIAL_HEADERS or _CREDENTIAL_NAME.search(name) is not None


def journal_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as the journal keeps them: names in lower case, credentials replaced by a marker, bytes that are
    not UTF-8 shown as U+FFFD."""
    kept = {}
    for name, value in headers:
        key = name.lower()
        if is_credential(key):
            kept[key] = REDACTED
        elif is_text(value):
            kept[key] = value
        else:
            kept[key] = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return kept
