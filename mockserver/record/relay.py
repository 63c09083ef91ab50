"""The recording proxy: a request goes to the upstream with the client's own headers (its key among them), the
answer comes back to the client as it arrives — each read written on at once, nothing buffered, so the client
sees the upstream's timing — and a tee reads the same bytes into a `Take`, recorded when the answer ends.

Only the requests a scenario can answer are recorded (`POST` to chat, legacy completions, Responses, embeddings
and moderations); every other `/v1` route (models, stored responses, files, ...) is forwarded as it is.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import aiohttp
from aiohttp import web

from ..engine.ask import Ask
from ..scenario.problems import header_text
from ..wire import chat, completions, embeddings, moderations, responses
from ..wire.contract import Renders
from ..wire.errors import ApiError
from .emit import Unwritable
from .recorder import Prepared, Recorder
from .sse import SseReader
from .take import CLIENT_LEFT, DISCONNECT, END, Take
from .tees import MISSHAPEN, MISSHAPEN_SAID, StreamTee, read_body, read_error
from .upstream import shown, target

log = logging.getLogger("mockserver")

RECORDED: Mapping[str, Renders[Any, Any]] = {
    "/chat/completions": chat,
    "/completions": completions,
    "/responses": responses,
    "/embeddings": embeddings,
    "/moderations": moderations,
}


# Headers of one hop, never forwarded (either way); `accept-encoding` is replaced by identity, so that the bytes
# relayed are the bytes read; mockserver's own headers stay here.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
        "expect",
        "x-mock-session",
        "x-mock-scenario",
    }
)


MAX_RECORDED = 64 * 1024 * 1024  # an answer (or a request) larger than this is relayed, not recorded
OFF_LOOP = 64 * 1024  # an answer larger than this is recorded on the recording thread (it takes 50 ms or more)
MOST_BEHIND = 128 * 1024 * 1024  # bytes of answers waiting for the recording thread, at most
_MAGIC = {"gzip": b"\x1f\x8b", "x-gzip": b"\x1f\x8b", "deflate": b"x"}  # how a compressed body starts
CONNECT_TIMEOUT = 30.0
_MOST_SAID = 300  # characters of why the upstream could not be reached, in the 502 and the log


class Relay:
    """Forwards requests to one upstream, and records the answers when it has a `Recorder`."""

    def __init__(self, upstream: str, recorder: Recorder | None = None) -> None:
        self.upstream = upstream
        self.recorder = recorder
        self._session: aiohttp.ClientSession | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mockserver-record")  # no thread until used
        self._behind = 0  # bytes of answers given to the recording thread and not yet appended
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),  # the clients' cookies are theirs: none is kept between requests
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=None),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        try:
            await asyncio.gather(*self._pending, return_exceptions=True)  # the answers that ended are in the file
        finally:
            self._executor.shutdown()
        if self.recorder is not None:
            await self.recorder.close()

    def _parsed(self, method: str, below: str, raw: bytes, encoding: str) -> tuple[Ask, dict[str, Any]] | None:
        """The request as mockserver reads it, when it is one to record; None (with a log line) otherwise."""
        wire = RECORDED.get(below)
        if self.recorder is None or method != "POST" or wire is None:
            return None
        try:
            if encoding:
                raw = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding else 0).decompress(raw, MAX_RECORDED)
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
            return wire.parse_request(body), body
        except (ValueError, RecursionError, zlib.error) as exc:
            log.warning("not recording %s: the request body is not JSON (%s)", below, exc)
        except ApiError as exc:
            log.warning("not recording %s: mockserver answers this request itself: %d %s", below, exc.status, exc.code)
        return None

    async def forward(self, request: web.Request, below: str, arrived: float) -> web.StreamResponse:
        """Forward `request` (its path below /v1 is `below`; it arrived at loop time `arrived`)."""
        assert self._session is not None, "start() first"
        loop = asyncio.get_running_loop()
        raw = await request.read()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        # The body as it came, or as the server already decompressed it: its encoding goes with it or not.
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        encoding = encoding if raw.startswith(_MAGIC.get(encoding, b"\0\0")) else ""
        if encoding:
            headers.append(("Content-Encoding", encoding))
        headers.append(("Accept-Encoding", "identity"))
        parsed = self._parsed(request.method, below, raw, encoding)
        url = target(self.upstream, below, request.query_string)
        try:
            upstream = await self._session.request(
                request.method, url, data=raw, headers=headers, allow_redirects=False
            )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            why = str(exc) or type(exc).__name__
            why = why if len(why) <= _MOST_SAID else why[:_MOST_SAID] + "…"  # it may quote what the upstream sent
            raise ApiError(
                502,
                f"mockserver could not reach the upstream {shown(self.upstream)}: {why}",
                "server_error",
                code="upstream_unreachable",
            ) from None
        headers_at = loop.time()
        kind = upstream.headers.get("Content-Type", "")
        take = Take(below, stream=kind.startswith("text/event-stream"), status=upstream.status)
        take.latency = (headers_at - arrived) * 1000
        tee, reader, kept = StreamTee(take), SseReader(), bytearray()
        recording = parsed is not None
        # A reason or header value with control characters cannot be written back (aiohttp refuses the head).
        reason = upstream.reason if upstream.reason and header_text(upstream.reason) else None
        response = web.StreamResponse(status=upstream.status, reason=reason)
        for name, value in upstream.headers.items():
            if name.lower() not in _HOP and header_text(value):
                response.headers.add(name, value)
        streamed = 0  # bytes of the answer so far: past MAX_RECORDED it is relayed, no longer recorded
        how, at = END, 0.0
        try:
            await response.prepare(request)
            while True:
                try:
                    data = await upstream.content.readany()
                except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
                    how = DISCONNECT
                    break
                at = (loop.time() - headers_at) * 1000
                if not data:
                    break
                streamed += len(data)
                recording = recording and streamed <= MAX_RECORDED
                if recording and take.stream:
                    for event in reader.feed(data, at):
                        tee.event(event, event.at)
                elif recording:
                    kept += data
                await response.write(data)
            if how == DISCONNECT and request.transport is not None:
                request.transport.close()  # the client sees the same cut
            else:
                await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            how = CLIENT_LEFT  # handler cancelled or write refused: the client went away
            raise
        finally:
            upstream.release()
            at = (loop.time() - headers_at) * 1000
            elapsed = (loop.time() - arrived) * 1000
            said = functools.partial(
                log.info, "%s %s %d %.0fms upstream; %s", request.method, request.path, take.status, elapsed
            )
            if parsed is None:
                said("relayed")
            elif not recording:
                said("not recorded: the answer is too large")
            else:
                since = time.time() - elapsed / 1000  # when it arrived, by the clock
                answer = (take, tee, reader, bytes(kept), upstream.headers)
                prepare = functools.partial(
                    self._prepare, request.method, request.path, *answer, parsed, how, at, since
                )
                self._record(prepare, said, streamed)
        return response

    def _record(self, prepare: Callable[[], Prepared | str], said: Callable[[str], None], size: int) -> None:
        """Record an answer of `size` bytes, and `said` what became of it: at once, or — when it is large, or others
        wait on the recording thread — there, about a second a megabyte, while the loop goes on serving and the
        client's connection is free for its next request. Either way it is appended and served from the loop, in
        the order the answers ended. Past `MOST_BEHIND` bytes waiting, an answer is not recorded."""
        if size <= OFF_LOOP and not self._pending:
            said(self._committed(prepare()))
            return
        if self._behind + size > MOST_BEHIND:
            said(f"not recorded: the recorder is {self._behind:,} bytes of answers behind")
            return
        self._behind += size
        task = asyncio.create_task(self._off_loop(prepare, said, size))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _off_loop(self, prepare: Callable[[], Prepared | str], said: Callable[[str], None], size: int) -> None:
        try:
            said(self._committed(await asyncio.get_running_loop().run_in_executor(self._executor, prepare)))
        finally:
            self._behind -= size

    def _committed(self, ready: Prepared | str) -> str:
        """Append and serve a prepared recording; what became of it, for the log."""
        assert self.recorder is not None
        if isinstance(ready, str):
            return ready
        try:
            return self.recorder.commit(ready)
        except Exception:  # a bug: the client has its answer all the same
            log.exception("could not append a recording")
            return "not recorded"

    def _prepare(
        self,
        method: str,
        path: str,
        take: Take,
        tee: StreamTee,
        reader: SseReader,
        body: bytes,
        headers: Mapping[str, str],
        parsed: tuple[Ask, dict[str, Any]],
        how: str,
        at: float,
        since: float,
    ) -> Prepared | str:
        """Make the recording of the answer, whatever became of the client; never fail the request for it. A
        string says what became of it instead, for the log."""
        assert self.recorder is not None
        try:
            unreadable = _read(take, tee, reader, body, headers, how, at)
        except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested past the parser
            unreadable = "the answer is not JSON"
        if unreadable is not None:
            return f"not recorded: {unreadable}"
        when = datetime.fromtimestamp(since, timezone.utc)
        url = shown(target(self.upstream, take.endpoint, ""))
        origin = f"recorded {when:%Y-%m-%d %H:%M:%S} UTC from {method} {url}"
        try:
            return self.recorder.prepare(take, parsed[0], parsed[1], origin)
        except Unwritable as exc:
            return f"not recorded: {exc}"
        except Exception:  # a bug: the client has its answer all the same
            log.exception("could not record the answer to %s %s", method, path)
            return "not recorded"


def _read(
    take: Take, tee: StreamTee, reader: SseReader, body: bytes, headers: Mapping[str, str], how: str, at: float
) -> str | None:
    """Read the rest of the answer into `take`: why it cannot be recorded, or None. ValueError (or RecursionError)
    when a whole answer is not JSON."""
    whole: Any = None
    if take.status < 400 and not take.stream:
        if not 200 <= take.status < 300:
            return f"HTTP {take.status} is not an answer a scenario gives"
        if how != END:
            return "the answer did not arrive whole"
        whole = json.loads(body)
    try:
        if take.status >= 400:
            read_error(take, take.status, body, headers)
        elif take.stream:
            for event in reader.close(at):
                tee.event(event, event.at)
            tee.end(at, how)
        else:
            take.latency += at
            read_body(take, whole)
    except MISSHAPEN:
        return MISSHAPEN_SAID
    return take.unreadable
