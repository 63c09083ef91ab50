"""One recorded answer in the script model: what the tees read from a wire format, as the keys a scenario
writes — each delta a `chunks` item with its delay, the finish, usage, model, system_fingerprint, an ending fault
— or an `error:` answer, or the body keys of an answer that did not stream.

Times are milliseconds after the answer's headers (`latency_ms` is when those came). Each delay is the
difference of two times rounded to a tenth of a millisecond, so rounding never adds up over a long stream: chunk
i is due when it came, to 0.1 ms, however many came before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .emit import Flow, Lines

# How a recorded answer ended: as the API finished it; with an error event; cut by the upstream; with a clean end
# but no finish; or when the client left (recorded up to there).
COMPLETED = "completed"
ERROR = "error"
DISCONNECT = "disconnect"
END = "end"
CLIENT_LEFT = "client left"


def ms(value: float) -> float:
    """Milliseconds as written: to a tenth, whole numbers without a fraction."""
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


class Track:
    """The `chunks` of one choice, with the delay before each."""

    def __init__(self) -> None:
        self.items: Lines = Lines()
        self.finish: str | None = None
        self.calls = 0
        # The text of each kind, in pieces: joined when asked for (adding to one string copied it all, per chunk).
        self._pieces: dict[str, list[str]] = {"content": [], "refusal": [], "reasoning": []}
        self._last = 0.0  # when the item before came, rounded as written

    def _delay(self, at: float) -> float:
        when = round(max(at, self._last), 1)
        delay = round(when - self._last, 1)
        self._last = when
        return ms(delay)

    def add(self, kind: str, value: Any, at: float, **extra: Any) -> None:
        """An item of `kind` (content, reasoning, refusal, tool_call, arguments, or a fault) at `at` ms."""
        delay = self._delay(at)
        if kind in self._pieces and isinstance(value, str):
            self._pieces[kind].append(value)
        if kind == "tool_call":
            self.calls += 1
        if kind == "content" and not delay and not extra:
            self.items.append(value)
            return
        item = Flow({kind: value})
        if delay:
            item["delay_ms"] = delay
        item.update(extra)
        self.items.append(item)

    def text(self, kind: str) -> str:
        """All the text of `kind` (content, refusal or reasoning) so far."""
        return "".join(self._pieces[kind])

    @property
    def empty(self) -> bool:
        return not self.items


@dataclass
class Take:
    """A recorded answer, as it is read."""

    endpoint: str  # below /v1: /chat/completions, /completions, /responses, /embeddings, /moderations
    stream: bool = False
    status: int = 0
    latency: float = 0.0  # ms until the headers
    tracks: dict[int, Track] = field(default_factory=dict)
    model: str | None = None
    fingerprint: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    raw_reasoning: bool = False
    ended: str = COMPLETED
    end_at: float = 0.0  # ms after the headers when the answer ended
    error: dict[str, Any] | None = None  # an HTTP error answer, as `error:` writes it
    whole: dict[str, Any] = field(default_factory=dict)  # body keys of an answer that did not stream
    unreadable: str | None = None  # why the answer could not be read into a scenario

    def track(self, index: int) -> Track:
        if index not in self.tracks:
            self.tracks[index] = Track()
        return self.tracks[index]

    @property
    def chunk_count(self) -> int:
        return sum(len(track.items) for track in self.tracks.values())

    def answer(self) -> dict[str, Any]:
        """The answer's keys, in the order a person reads them."""
        keys: dict[str, Any] = {}
        if self.error is not None:
            if self.latency:
                keys["latency_ms"] = ms(self.latency)
            keys["error"] = self.error
            return keys
        if self.model:
            keys["model"] = self.model
        if self.fingerprint:
            keys["system_fingerprint"] = self.fingerprint
        if self.latency:
            keys["latency_ms"] = ms(self.latency)
        if self.raw_reasoning:
            keys["raw_reasoning"] = True
        if self.stream:
            keys.update(self._streamed())
        else:
            keys.update(self.whole)
        usage = dict(self.usage)
        if len(self.tracks) > 1 or len(self.whole.get("choices") or ()) > 1:
            # A scripted count would be each choice's (they add up): each choice's is computed from its chunks.
            usage.pop("completion_tokens", None)
        if usage:
            keys["usage"] = Flow(usage)
        return keys

    def _streamed(self) -> dict[str, Any]:
        keys: dict[str, Any] = {}
        tracks = [self.tracks[index] for index in sorted(self.tracks)] or [Track()]
        if all(track.empty for track in tracks) and self.ended == COMPLETED and self.end_at:
            keys["ttft_ms"] = ms(self.end_at)  # nothing said, and the finish took this long
        if len(tracks) == 1:
            keys["chunks"] = tracks[0].items
            if tracks[0].finish is not None and self.ended == COMPLETED:
                keys["finish_reason"] = tracks[0].finish
            return keys
        choices = []
        for track in tracks:
            choice: dict[str, Any] = {"chunks": track.items}
            if track.finish is not None and self.ended == COMPLETED:
                choice["finish_reason"] = track.finish
            choices.append(choice)
        keys["choices"] = choices
        return keys
