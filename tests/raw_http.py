"""HTTP/1.1 written by hand, for requests no client library would send: percent-encoded slashes left as they
are, bytes that are not UTF-8 in a header, malformed framing."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        """The API's error envelope, checked for its shape."""
        data = self.json()
        assert list(data) == ["error"], data
        assert list(data["error"])[:4] == ["message", "type", "param", "code"], data
        error: dict[str, Any] = data["error"]
        return error


async def send(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes, read until the server closes or `timeout` passes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        chunks = []
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), timeout):
                chunks.append(chunk)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        return b"".join(chunks)
    finally:
        writer.close()


def parse(raw: bytes) -> RawAnswer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2 :]
        body = decoded
    return RawAnswer(status, headers, body)


async def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, **raw: bytes
) -> RawAnswer:
    """One request on its own connection, the path sent exactly as given; `raw` headers are sent as bytes."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines).encode() + b"\r\n"
    head += b"".join(name.replace("_", "-").encode() + b": " + value + b"\r\n" for name, value in raw.items())
    return parse(await send(port, head + b"\r\n" + body))
