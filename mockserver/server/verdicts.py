"""Judging the client from the journal: did it retry, wait and give up as the API asks?

Requests are grouped into calls: one call's attempts are consecutive requests of a session to the same route
with the same body, each following a failed one. The SDKs' own `x-stainless-retry-count` is not trusted to start
a new call: a hand-written retry loop around an SDK sends 0 on every attempt, and it is exactly the loop to
judge. Every finding is explained in one sentence. The turns of a Responses WebSocket are requests like any other
(the close code a turn ended with says whether to try again); its connections are judged apart
(`websocket_verdicts.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

from ..scenario.hangups import RECONNECT_CODES
from ..scenario.model import ErrorReply
from . import websocket_verdicts
from .journal import Entry
from .state import State

NOT_RETRYABLE = (400, 401, 403, 404, 422)
RETRYABLE = (408, 409, 429)
# How much sooner than asked a retry may come before it counts as too soon (clock and rounding slack).
TOLERANCE_S = 0.02
# Servers may ask for long waits; clients rightly cap them (openai-node: 60 s). Longer asks are not judged.
MAX_JUDGED_WAIT_S = 60.0
# Every rule a finding may name.
RULES = (
    "retry_too_soon",
    "retried_not_retryable",
    "retried_against_advice",
    "gave_up_early",
    "retry_storm",
    "repeated_after_stream_fault",
    "sat_through_stall",
    "ignored_rate_limit",
    "reconnect_storm",
    "never_reconnected",
)


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    session: str | None
    requests: tuple[int, ...]  # journal ids

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _failed(entry: Entry) -> bool:
    return entry.status is None or entry.status >= 400 or entry.ended != "completed"


def _retryable(entry: Entry) -> bool:
    if entry.should_retry is not None:
        return entry.should_retry
    if entry.close_code is not None:  # a WebSocket turn the server hung up on: the close code says
        return entry.close_code in RECONNECT_CODES
    return entry.status is None or entry.status in RETRYABLE or entry.status >= 500 or entry.ended != "completed"


def _call_of(entry: Entry) -> tuple[str, str, Any]:
    """What the attempts of one call share: bodiless reads of different stored objects are different calls."""
    return entry.method, entry.path, entry.body


def calls(entries: Iterable[Entry]) -> list[list[Entry]]:
    """The journal's API requests grouped into calls: lists of attempts, oldest first."""
    result: list[list[Entry]] = []
    last: dict[str | None, list[Entry]] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        if (entry.status is None and entry.ended == "in progress") or websocket_verdicts.is_connection(entry):
            continue  # a WebSocket connection is judged as one (its turns are the calls)
        chain = last.get(entry.session)
        if chain and _failed(chain[-1]) and _call_of(entry) == _call_of(chain[-1]):
            chain.append(entry)
        else:
            chain = [entry]
            result.append(chain)
            last[entry.session] = chain
    return result


def judge(
    entries: Iterable[Entry],
    succeeds_after: Callable[[Entry], bool] = lambda entry: False,
    max_retries: int = 5,
    stall_s: float = 5.0,
) -> list[Finding]:
    """Findings about the client behind these entries. `succeeds_after(entry)` tells whether the next request
    of the entry's scenario (a sequence) would have succeeded; `max_retries` is what counts as a storm; a stall
    of `stall_s` or more that the client sat through is a finding."""
    entries = list(entries)
    findings: list[Finding] = []

    def add(rule: str, message: str, *involved: Entry) -> None:
        findings.append(Finding(rule, message, involved[0].session, tuple(e.id for e in involved)))

    for chain in calls(entries):
        for previous, retry in pairwise(chain):
            _judge_retry(previous, retry, add)
        if len(chain) - 1 > max_retries:
            add(
                "retry_storm",
                f"Requests {chain[0].id}-{chain[-1].id} are one call tried {len(chain)} times, more than "
                f"{max_retries} retries: a retry storm.",
                *chain,
            )
        last = chain[-1]
        if _failed(last) and _retryable(last) and last.status is not None and succeeds_after(last):
            add(
                "gave_up_early",
                f"The call gave up after {len(chain)} attempt{'s' * (len(chain) > 1)} (last: request {last.id}, "
                f"{last.status}), though its next attempt would have succeeded (scenario '{last.scenario}', "
                f"step {(last.step or 0) + 1}).",
                last,
            )
    for run in _refused_runs(entries):
        kind = run[0].rate_limit["refused"] if run[0].rate_limit else "requests"
        add(
            "ignored_rate_limit",
            f"Requests {_listed([entry.id for entry in run])} came while the rate limit had no room left "
            f"(x-ratelimit-remaining-{kind}: 0) and were all refused with 429: a client should wait for "
            f"x-ratelimit-reset-{kind} (or retry-after) instead of sending more.",
            *run,
        )
    for entry in entries:
        if entry.stall_ms and entry.stall_ms >= stall_s * 1000 and entry.ended != "client disconnected":
            add(
                "sat_through_stall",
                f"Request {entry.id} sat through a {entry.stall_ms / 1000:g} s stall without closing the "
                "connection: give the client a read timeout.",
                entry,
            )
    websocket_verdicts.judge(entries, add, max_retries)
    return findings


def _refused_runs(entries: Iterable[Entry]) -> list[list[Entry]]:
    """Runs of two or more requests refused by one quota of one session, none let through between them. One
    refusal is how a client that does not read the headers learns of the limit; the SDKs then wait for
    retry-after. A second one means the client kept sending."""
    open_runs: dict[tuple[str | None, ...], list[Entry]] = {}
    runs = []
    for entry in sorted(entries, key=lambda e: e.id):
        record = entry.rate_limit
        if not record:
            continue
        key = (entry.session, record["quota"], entry.scenario if record["quota"] == "scenario" else None)
        if record["refused"]:
            open_runs.setdefault(key, []).append(entry)
        else:
            runs.append(open_runs.pop(key, []))
    runs += open_runs.values()
    return sorted((run for run in runs if len(run) > 1), key=lambda run: run[0].id)


def _listed(ids: list[int]) -> str:
    """`6, 7 and 8`; `6, 7, 8 and 40 more` for a long list."""
    if len(ids) > 5:
        return f"{', '.join(map(str, ids[:3]))} and {len(ids) - 3} more"
    return ", ".join(map(str, ids[:-1])) + f" and {ids[-1]}"


def _judge_retry(previous: Entry, retry: Entry, add: Callable[..., None]) -> None:
    what = f"Request {retry.id} retried request {previous.id}"
    asked_back = previous.close_code in RECONNECT_CODES  # a WebSocket closed for the client to try again
    if previous.status == 200 and previous.ended == "fault" and previous.chunks and not asked_back:
        add(
            "repeated_after_stream_fault",
            f"{what}, which broke mid-stream ({previous.fault}) after {previous.chunks} chunks: repeating the "
            "whole request may repeat its side effects and duplicate the output already shown.",
            previous,
            retry,
        )
    if previous.should_retry is False:
        add("retried_against_advice", f"{what} although its answer said x-should-retry: false.", previous, retry)
    elif previous.status in NOT_RETRYABLE:
        add("retried_not_retryable", f"{what}, whose {previous.status} is not retryable.", previous, retry)
    wait = previous.retry_after
    if wait is not None and wait <= MAX_JUDGED_WAIT_S:
        answered = previous.time + (previous.duration_ms or 0) / 1000
        waited = retry.time - answered
        if waited < wait - TOLERANCE_S:
            add(
                "retry_too_soon",
                f"{what} after {waited:.2f} s, but the {previous.status} answer asked for {wait:g} s (retry-after).",
                previous,
                retry,
            )


def report(verdict: dict[str, object]) -> str:
    """A verdict as a table for a terminal."""
    findings = verdict["findings"]
    assert isinstance(findings, list)
    head = (
        f"Client verdicts: {len(findings) or 'no'} finding{'s' * (len(findings) != 1)} in "
        f"{verdict['requests']} requests ({verdict['calls']} calls)"
    )
    if not findings:
        return head + ": the client behaved."
    width = max(len(finding["rule"]) for finding in findings)
    rows = [f"  {finding['rule']:<{width}}  {finding['message']}" for finding in findings]
    return "\n".join([head, *rows])


def _succeeds_after(state: State) -> Callable[[Entry], bool]:
    """Whether the request after this entry's, in its scenario's sequence, would have been answered."""

    def check(entry: Entry) -> bool:
        scenario = state.selector.find(entry.scenario or "", entry.session or "")
        if scenario is None or not scenario.is_sequence or entry.step is None:
            return False
        following = scenario.steps[min(entry.step, len(scenario.steps) - 1)]
        return not isinstance(following, ErrorReply)

    return check


def verdict(state: State, session: str | None = None, max_retries: int = 5) -> dict[str, Any]:
    entries = state.journal.select(session=session)
    findings = judge(entries, _succeeds_after(state), max_retries=max_retries)
    return {
        "clean": not findings,
        "requests": len(entries),
        "calls": len(calls(entries)),
        "findings": [finding.to_json() for finding in findings],
    }
