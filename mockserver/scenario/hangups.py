"""The `chunks` items that end a WebSocket connection, and their checks: `close: CODE` (with an optional `reason`),
and `refuse` beside a `close` or a `disconnect` — the session's next upgrades refused. Over HTTP either one cuts the
connection, as `disconnect` does; over a WebSocket a `disconnect` drops it without a close frame (clients see 1006).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checks import Checks
from .marked_yaml import line_of
from .model import Fault, Hangup
from .problems import kind_of, short

# The chunk items that end a connection, and the keys that go with them only.
SOCKET_ENDS = ("close", "disconnect")
SOCKET_KEYS = ("reason", "refuse")
# Close codes a script may send: 1000-4999 (RFC 6455). 1005 is sent as a close frame without a code, 1006 as no
# close frame at all: what a client reports for each.
CLOSE_CODES = (1000, 4999)
NO_CODE = 1005
DROPPED = 1006
# The close codes openai-python and openai-node reconnect on (with reconnection turned on); a dropped connection
# counts as 1006.
RECONNECT_CODES = (1001, 1005, 1006, 1011, 1012, 1013, 1015)
MAX_REASON = 123  # bytes of UTF-8: a close frame's payload is at most 125, two of them the code
_REFUSE_KEYS = ("times", "status")
UPGRADE_CHAOS = ("refuse", "refuse_status")  # the server's chaos settings only
MAX_REFUSALS = 1_000_000


class HangupChecks(Checks):
    """Checks and builds the items that end a connection."""

    def socket_end(self, item: Mapping[str, Any], kind: str, delay: float | None, where: str) -> Fault | None:
        """A `close` or `disconnect` item as a fault: a disconnect with how it ends a WebSocket connection (a plain
        disconnect drops it)."""
        if kind == "close":
            code = self.close_code(item, where)
        elif item[kind] is True:
            code = DROPPED
        else:
            self.fail(line_of(item, kind), f"'{kind}' in {where} must be true, got {short(item[kind])}")
            code = None
        reason = self.close_reason(item, kind, code, where)
        refusal = self.refusal(item, where) if "refuse" in item else (0, 503)
        if code is None or reason is None or refusal is None:
            return None
        if kind == "disconnect" and not refusal[0]:
            return Fault("disconnect", delay)
        return Fault("disconnect", delay, hangup=Hangup(code, reason, *refusal))

    def stray_socket_keys(self, item: Mapping[str, Any], where: str) -> None:
        """`reason` and `refuse` on an item that does not end the connection."""
        for key in SOCKET_KEYS:
            if key in item:
                goes = "'close'" if key == "reason" else "'close' or 'disconnect'"
                self.fail(line_of(item, key), f"'{key}' in {where} goes with {goes}")

    def upgrade_chaos(self, rates: Mapping[str, Any], where: str) -> None:
        """A scenario's chaos cannot refuse upgrades: they come before any scenario is chosen."""
        for key in UPGRADE_CHAOS:
            if key in rates:
                self.fail(
                    line_of(rates, key),
                    f"chaos '{key}' in {where}: upgrades are refused before a scenario is chosen; give it to the "
                    "server's chaos (--chaos, POST /_mock/chaos) instead",
                )

    def close_code(self, item: Mapping[str, Any], where: str) -> int | None:
        value = item["close"]
        low, high = CLOSE_CODES
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(
                line_of(item, "close"),
                f"'close' in {where} must be a WebSocket close code from {low} to {high} (1011: server error, "
                f"1012: service restart...), got {kind_of(value)} {short(value)}",
            )
            return None
        return value

    def close_reason(self, item: Mapping[str, Any], kind: str, code: int | None, where: str) -> str | None:
        """The close frame's reason: text of at most 123 bytes, only with a code sent in a close frame."""
        if "reason" not in item:
            return ""
        reason = self.text(item, "reason", where)
        line = line_of(item, "reason")
        if kind != "close":
            self.fail(line, f"'reason' in {where} goes with 'close'")
            return None
        if code in (NO_CODE, DROPPED):
            self.fail(line, f"'reason' in {where}: a close with {code} sends no close frame payload, so no reason")
            return None
        if reason is not None and len(reason.encode()) > MAX_REASON:
            self.fail(line, f"'reason' in {where} is {len(reason.encode())} bytes; a close frame holds {MAX_REASON}")
            return None
        return reason

    def refusal(self, item: Mapping[str, Any], where: str) -> tuple[int, int] | None:
        """`refuse: N` (the next N upgrades of the session get a 503) or `refuse: {times: N, status: S}`."""
        value = item["refuse"]
        line = line_of(item, "refuse")
        what = f"'refuse' in {where}"
        spec: Mapping[str, Any] = value if isinstance(value, Mapping) else {"times": value}
        if isinstance(value, Mapping):
            self.keys(value, _REFUSE_KEYS, what)
            if "times" not in value:
                self.fail(line, f"{what} needs 'times': how many upgrades are refused")
                return None
        times, status = spec["times"], spec.get("status", 503)
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_REFUSALS:
            self.fail(
                line_of(spec, "times") or line,
                f"{what} must be how many upgrades are refused (a whole number from 1 to {MAX_REFUSALS:,}), "
                f"or {{times: N, status: S}}; got {kind_of(times)} {short(times)}",
            )
            return None
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            self.fail(
                line_of(spec, "status") or line,
                f"'status' of {what} must be an HTTP error status 400-599, got {short(status)}",
            )
            return None
        return times, status
