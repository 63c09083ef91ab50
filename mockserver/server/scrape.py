"""`GET /metrics`: the server's counters, with gauges read from the journal and the verdicts, in the Prometheus
text format.

With `serve --workers N` the kernel hands a scrape to any one worker, so each worker also listens on a Unix
socket of its own (server/workers.py); the worker a scrape reaches asks the others for their own samples
(`/metrics?scope=worker`) over those sockets and answers with the sums. The scraper sees one target whose
counters are the whole server's, fresh at every scrape.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from .._version import __version__
from ..scenario.chaos import KINDS
from .metrics import Histogram
from .promtext import CONTENT_TYPE, Family, add_up, parse_samples, render
from .state import STATE, State
from .verdicts import RULES, verdict

log = logging.getLogger("mockserver")

# The faults the journal lists (a `raw` item is bytes, not a fault; a `wait` is time a wire format leaves out).
FAULT_KINDS = ("error", "disconnect", "end", "stall", "keepalive")
SIBLING_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Siblings:
    """Where the workers of one `serve --workers N` listen for each other."""

    socket: str  # this worker's
    others: tuple[str, ...]


SIBLINGS = web.AppKey("mockserver.siblings", Siblings)


def families(state: State) -> list[Family]:
    """This process's metrics."""
    metrics = state.metrics
    workers = Family("mockserver_workers", "gauge", "Worker processes whose metrics this answer adds up.")
    workers.add(1)
    info = Family("mockserver_info", "gauge", "The mockserver version, as a label.")
    info.add(1, version=__version__)
    requests = Family(
        "mockserver_requests_total",
        "counter",
        "API requests answered, by endpoint, status (none: the client left first), scenario and how they ended.",
    )
    for (endpoint, status, scenario, ended), count in metrics.requests.items():
        requests.add(count, endpoint=endpoint, status=status, scenario=scenario, ended=ended)
    duration = Family("mockserver_request_duration_seconds", "histogram", "From arrival to the end of the answer.")
    ttft = Family("mockserver_time_to_first_token_seconds", "histogram", "From arrival to the first token sent.")
    for family, histograms in ((duration, metrics.duration), (ttft, metrics.ttft)):
        for endpoint, histogram in histograms.items():
            _histogram(family, histogram, endpoint)
    in_flight = Family("mockserver_requests_in_flight", "gauge", "API requests arrived and not yet answered.")
    in_flight.add(state.journal.next_id - 1 - metrics.finished)
    open_streams = Family("mockserver_open_streams", "gauge", "Streams whose headers are sent and body not ended.")
    open_streams.add(metrics.open_streams)
    chunks = Family("mockserver_stream_chunks_total", "counter", "Stream chunks sent ([DONE] not counted).")
    sent = Family("mockserver_stream_bytes_total", "counter", "Bytes of stream bodies sent.")
    for family, counts in ((chunks, metrics.chunks), (sent, metrics.bytes)):
        for endpoint, count in counts.items():
            family.add(count, endpoint=endpoint)
    faults = Family("mockserver_faults_total", "counter", "Faults played, scripted or drawn by chaos, by kind.")
    for kind in (*FAULT_KINDS, *(kind for kind in metrics.faults if kind not in FAULT_KINDS)):
        faults.add(metrics.faults.get(kind, 0), kind=kind)
    chaos = Family("mockserver_chaos_draws_total", "counter", "Chaos draws that struck a request, by kind.")
    for kind in KINDS:
        chaos.add(metrics.chaos.get(kind, 0), kind=kind)
    findings = Family("mockserver_verdict_findings", "gauge", "Client verdict findings in the journal, by rule.")
    counts = {rule: 0 for rule in RULES}
    for finding in verdict(state)["findings"]:
        counts[finding["rule"]] = counts.get(finding["rule"], 0) + 1
    for rule, count in counts.items():
        findings.add(count, rule=rule)
    journal = Family("mockserver_journal_entries", "gauge", "Requests kept in the journal.")
    journal.add(len(state.journal.entries))
    capacity = Family("mockserver_journal_capacity", "gauge", "Requests the journal keeps at most.")
    capacity.add(state.settings.journal_size)
    return [
        *(workers, info, requests, duration, ttft, in_flight, open_streams, chunks, sent),
        *(faults, chaos, findings, journal, capacity),
    ]


def _histogram(family: Family, histogram: Histogram, endpoint: str) -> None:
    for bound, count in histogram.cumulative():
        family.add(count, "_bucket", endpoint=endpoint, le=bound)
    family.add(histogram.total, "_sum", endpoint=endpoint)
    family.add(sum(histogram.counts), "_count", endpoint=endpoint)


async def _sibling(socket: str, token: str | None) -> dict[str, dict[str, float]] | None:
    """Another worker's own samples, or None when it does not answer in time."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=socket),
                timeout=aiohttp.ClientTimeout(total=SIBLING_TIMEOUT_S),
            ) as session,
            session.get("http://worker/metrics?scope=worker", headers=headers) as response,
        ):
            response.raise_for_status()
            return parse_samples(await response.text())
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        where = socket.replace("\0", "@")  # an abstract socket's name starts with a NUL
        log.warning("metrics: the worker at %s did not answer: %s", where, exc or type(exc).__name__)
        return None


async def metrics(request: web.Request) -> web.Response:
    """This worker's metrics with `?scope=worker`; otherwise the whole server's."""
    state = request.app[STATE]
    local = families(state)
    siblings = request.app.get(SIBLINGS)
    if siblings is not None and request.query.get("scope") != "worker":
        answers = await asyncio.gather(*(_sibling(path, state.settings.admin_token) for path in siblings.others))
        local = add_up(local, (answer for answer in answers if answer is not None))
    return web.Response(body=render(local).encode(), headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
