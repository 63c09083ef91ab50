"""Judging a client's WebSocket connections from the journal: did it come back when the server asked it to, and did
it come back with restraint?

A connection is journaled as its upgrade (method GET, `websocket` set); it failed when the server closed it with a
fault (`ended: fault`) or refused it (an error status). The SDKs reconnect on the close codes 1001, 1005, 1006,
1011, 1012, 1013 and 1015, waiting 0.5 s, then twice as long each time, up to 8 s, five times at most.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise

from ..scenario.hangups import RECONNECT_CODES
from .journal import Entry

# The codes as a verdict names them: "1001, 1005, ... and 1015".
_RECONNECT_WORDS = ", ".join(map(str, RECONNECT_CODES[:-1])) + f" and {RECONNECT_CODES[-1]}"

# A reconnection this soon after the failure before it did not back off at all.
AT_ONCE_S = 0.1


def is_connection(entry: Entry) -> bool:
    return entry.websocket is not None and entry.method == "GET"


def _failed(entry: Entry) -> bool:
    return entry.ended == "fault" or (entry.status is not None and entry.status >= 400)


def _ended(entry: Entry) -> float:
    return entry.time + (entry.duration_ms or 0) / 1000


def judge(entries: Iterable[Entry], add: Callable[..., None], max_retries: int) -> None:
    """Add the findings about the connections among `entries` (every entry of the journal, oldest first)."""
    entries = list(entries)
    by_session: dict[str | None, list[Entry]] = {}
    for entry in entries:
        if is_connection(entry) and entry.status is not None:
            by_session.setdefault(entry.session, []).append(entry)
    for connections in by_session.values():
        _storms(connections, add, max_retries)
        for connection in connections:
            if _asked_back(connection) and not _resumed(connection, entries):
                add(
                    "never_reconnected",
                    f"Connection {connection.websocket} (request {connection.id}) was closed with "
                    f"{connection.close_code}, which asks the client to reconnect, and the session sent nothing "
                    f"after it: the SDKs reconnect on {_RECONNECT_WORDS}.",
                    connection,
                )


def _asked_back(connection: Entry) -> bool:
    """The server ended the connection with a code that asks the client to reconnect."""
    return connection.ended == "fault" and connection.close_code in RECONNECT_CODES


def _resumed(connection: Entry, entries: list[Entry]) -> bool:
    """Whether the session came back after the connection: a new connection, or a request to the same path."""
    return any(
        entry.id > connection.id
        and entry.session == connection.session
        and entry.websocket != connection.websocket
        and entry.path == connection.path
        for entry in entries
    )


def _storms(connections: list[Entry], add: Callable[..., None], max_retries: int) -> None:
    """Runs of reconnections, each after a failed connection: too many of them, or two at once in a row."""
    run: list[Entry] = []
    for previous, attempt in pairwise(connections):
        if _failed(previous):
            run = [*(run or [previous]), attempt]
        else:
            _storm(run, add, max_retries)
            run = []
    _storm(run, add, max_retries)


def _storm(run: list[Entry], add: Callable[..., None], max_retries: int) -> None:
    """A finding for a run of connections (the first failed, each other one a reconnection after a failure)."""
    if len(run) < 2:
        return
    waits = [attempt.time - _ended(failed) for failed, attempt in pairwise(run)]
    at_once = any(first < AT_ONCE_S and second < AT_ONCE_S for first, second in pairwise(waits))
    what = f"Requests {run[0].id}-{run[-1].id} are {len(run) - 1} reconnections in a row after failed connections"
    if len(run) - 1 > max_retries:
        add("reconnect_storm", f"{what}: more than {max_retries}, a reconnect storm.", *run)
    elif at_once:
        add(
            "reconnect_storm",
            f"{what}, two in a row within {AT_ONCE_S:g} s of the failure: a reconnect storm (the SDKs wait 0.5 s, "
            "then twice as long each time).",
            *run,
        )
