"""The upstream a recording proxy forwards to: an `http(s)://` base URL as `OPENAI_BASE_URL` takes it
(`https://api.openai.com/v1`); a bare host gets `/v1`. What follows `/v1` in a request's path is appended to it,
query included (Azure's `api-version`)."""

from __future__ import annotations

import argparse
import urllib.parse


def check_upstream(text: str) -> str:
    """The upstream URL, without a trailing slash; an ArgumentTypeError for anything but http(s)://HOST..."""
    parts = urllib.parse.urlsplit(text.strip())
    try:
        parts.port  # noqa: B018 (a port that is not a number raises)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)!r} has a port that is not a number") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{shown(text)!r} is not an http:// or https:// URL (for example https://api.openai.com/v1)"
        )
    if parts.fragment:
        raise argparse.ArgumentTypeError(f"{shown(text)!r} has a #fragment, which no request can carry")
    base = text.strip().rstrip("/")
    if parts.path in ("", "/"):
        base += "/v1"
    return base


def shown(url: str) -> str:
    """A URL as logs and recordings show it: without credentials, query or fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        if parts.port is not None:
            host += f":{parts.port}"
    except ValueError:
        pass
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def target(base: str, below: str, query: str) -> str:
    """The upstream URL of a request whose path below `/v1` is `below`."""
    return base + below + (f"?{query}" if query else "")
