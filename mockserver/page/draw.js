// Drawing: elements, a request's timeline, a call's attempts, numbers and times in words.

const SVG = "http://www.w3.org/2000/svg";
const TOO_SOON_S = 0.02; // the verdicts' tolerance on retry-after

export function failed(entry) {
  return entry.status === null || entry.status >= 400 || entry.ended !== "completed";
}

export function endOf(entry, nowMs) {
  const ticks = entry.ticks;
  const last = ticks.length ? ticks[ticks.length - 1][0] : 0;
  return entry.ended === "in progress" ? Math.max(last, nowMs) : entry.duration_ms ?? last;
}

// One request: waiting for the headers, then each write as a tick (taller for more chunks), the first token,
// stalls and faults where they were played. Its own scale, so that the shape of any stream shows.
export function requestTimeline(entry, nowMs) {
  const end = Math.max(endOf(entry, nowMs), 0.001);
  const x = (ms) => Math.max(0, Math.min(1000, (ms / end) * 1000));
  const ticks = entry.ticks;
  const headers = entry.headers_ms ?? (ticks.length ? ticks[0][0] : null);
  const root = svg("svg", { class: "line", viewBox: "0 0 1000 40", preserveAspectRatio: "none", role: "img" });
  root.setAttribute("aria-label", caption(entry, nowMs));
  svg("rect", { class: "waiting", x: 0, y: 18, width: x(headers ?? end), height: 4 }, root);
  if (headers !== null) svg("rect", { class: "open", x: x(headers), y: 18, width: x(end) - x(headers), height: 4 }, root);
  for (const mark of entry.marks || []) {
    if (mark.kind === "stall") {
      const width = Math.max(2, x(mark.at_ms + mark.ms) - x(mark.at_ms));
      svg("rect", { class: "stall", x: x(mark.at_ms), y: 2, width, height: 36 }, root);
    }
  }
  let before = 0;
  ticks.forEach(([ms, chunks], index) => {
    const count = chunks - before;
    before = chunks;
    if (index === 0 && count === 0) return; // the headers, drawn below
    const half = count > 0 ? Math.min(17, 5 + 3 * Math.log2(count)) : 3;
    svg("line", { class: count > 0 ? "tick" : "tick empty", x1: x(ms), x2: x(ms), y1: 20 - half, y2: 20 + half }, root);
  });
  if (headers !== null) svg("line", { class: "headers", x1: x(headers), x2: x(headers), y1: 1, y2: 39 }, root);
  if (entry.ttft_ms !== null) {
    const at = x(entry.ttft_ms);
    svg("path", { class: "ttft", d: `M${at} 1 L${at + 6} 8 L${at - 6} 8 Z` }, root);
  }
  for (const mark of entry.marks || []) {
    if (mark.kind !== "stall") svg("line", { class: `fault ${mark.kind}`, x1: x(mark.at_ms), x2: x(mark.at_ms), y1: 1, y2: 39 }, root);
  }
  if (entry.ended === "in progress") svg("line", { class: "now", x1: x(end), x2: x(end), y1: 10, y2: 30 }, root);
  return root;
}

export function caption(entry, nowMs) {
  const parts = [];
  const ticks = entry.ticks;
  const headers = entry.headers_ms ?? (ticks.length ? ticks[0][0] : null);
  if (headers !== null && ticks.length) parts.push(`headers ${ms(headers)}`);
  if (entry.ttft_ms !== null) parts.push(`first token ${ms(entry.ttft_ms)}`);
  const writes = ticks.filter(([, ], index) => index > 0).length;
  const chunks = ticks.length ? ticks[ticks.length - 1][1] : entry.chunks;
  if (writes) parts.push(`${chunks} chunk${chunks === 1 ? "" : "s"} in ${writes} write${writes === 1 ? "" : "s"}`);
  else if (ticks.length) parts.push("no chunk yet");
  for (const mark of entry.marks || []) {
    parts.push(mark.kind === "stall" ? `stall ${ms(mark.ms)} at ${ms(mark.at_ms)}` : `${mark.kind} at ${ms(mark.at_ms)}`);
  }
  if (entry.retry_after !== null) parts.push(`asked to wait ${entry.retry_after} s`);
  parts.push(entry.ended === "in progress" ? `${ms(endOf(entry, nowMs))} so far` : `took ${ms(entry.duration_ms ?? 0)}`);
  return parts.join(" · ");
}

// The attempts of one call on one time axis, with the waits between them and the wait each error asked for.
export function chainView(chain) {
  const first = chain[0].time;
  const endAt = (entry) => entry.time + (entry.duration_ms ?? 0) / 1000;
  const span = Math.max(...chain.map(endAt), ...chain.map((entry) => entry.time + (entry.retry_after ?? 0))) - first || 0.001;
  const x = (t) => ((t - first) / span) * 1000;
  const box = el("div", { class: "chain" });
  const outcome = (entry) => [entry.status, entry.ended === "completed" ? null : entry.ended].filter((part) => part !== null).join(" ");
  const statuses = chain.map(outcome).join(" → ");
  box.append(el("p", { class: "chain-title" }, `One call, ${chain.length} attempts: ${statuses}`));
  const root = svg("svg", { class: "line chain-line", viewBox: "0 0 1000 24", preserveAspectRatio: "none", role: "img" });
  root.setAttribute("aria-label", `attempts of one call over ${secs(span)}`);
  const waits = el("ol", { class: "waits" });
  chain.forEach((entry, index) => {
    const start = x(entry.time);
    svg("rect", { class: failed(entry) ? "attempt bad" : "attempt good", x: start, y: 6, width: Math.max(3, x(endAt(entry)) - start), height: 12 }, root);
    if (index === 0) return;
    const previous = chain[index - 1];
    const waited = entry.time - endAt(previous);
    svg("line", { class: "wait", x1: x(endAt(previous)), x2: start, y1: 12, y2: 12 }, root);
    const item = el("li", {}, `#${previous.id} → #${entry.id}: waited ${secs(waited)}`);
    if (previous.retry_after !== null) {
      const asked = endAt(previous) + previous.retry_after;
      svg("line", { class: "asked", x1: x(asked), x2: x(asked), y1: 2, y2: 22 }, root);
      item.append(`, asked for ${previous.retry_after} s`);
      if (waited < previous.retry_after - TOO_SOON_S) item.append(el("strong", { class: "too-soon" }, " too soon"));
    }
    waits.append(item);
  });
  box.append(root, waits);
  return box;
}

export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

function svg(tag, attributes, parent) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (parent) parent.append(element);
  return element;
}

export function ms(value) {
  if (value >= 1000) return secs(value / 1000);
  return value >= 10 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

export function secs(value) {
  return value >= 10 ? `${value.toFixed(1)} s` : `${value.toFixed(2)} s`;
}

export function clock(time) {
  const date = new Date(time * 1000);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

