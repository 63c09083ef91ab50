"""WebSocket upgrades a script has asked to refuse: a `close` (or `disconnect`) with `refuse: N` refuses the
session's next N upgrades with an HTTP status, as a service that restarts refuses new connections for a while.
Kept per session, only while some are pending, and forgotten with the session."""

from __future__ import annotations


class Refusals:
    """Per session: upgrades still to refuse, and the status they get."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[int, int]] = {}

    def add(self, session: str, times: int, status: int) -> None:
        """Refuse the session's next `times` upgrades with `status` (replacing what was pending)."""
        self.pending[session] = (times, status)

    def take(self, session: str) -> int | None:
        """The status refusing this upgrade, counted; None when it goes through."""
        pending = self.pending.get(session)
        if pending is None:
            return None
        times, status = pending
        if times > 1:
            self.pending[session] = (times - 1, status)
        else:
            del self.pending[session]
        return status

    def reset(self, session: str | None = None) -> None:
        if session is None:
            self.pending.clear()
        else:
            self.pending.pop(session, None)
