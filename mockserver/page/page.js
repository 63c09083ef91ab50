// mockserver's own page: the journal as it happens (GET feed, server-sent events read with fetch so that the
// admin token can go in a header), with the verdicts, sessions and scenarios of the control API beside it.
// Every URL is relative to the page, /_mock/.
"use strict";

const TOKEN = "mockserver.admin-token"; // kept in sessionStorage: this tab only, gone when it closes
const SVG = "http://www.w3.org/2000/svg";
const SHOWN = 200; // calls drawn at first; "Show older requests" adds as many again
const TOO_SOON_S = 0.02; // the verdicts' tolerance on retry-after

const state = {
  entries: new Map(), // id -> the feed's summary of a journal entry, with a version number `v`
  journalSize: 1000,
  skew: 0, // server clock minus this page's clock, in seconds
  findings: [],
  findingsOf: new Map(), // request id -> indexes of the findings about it
  shown: SHOWN,
  rows: new Map(), // request id -> its <article>
  groups: new Map(), // first request id of a call -> its <li>
  version: 0,
};

const $ = (id) => document.getElementById(id);

// ---- talking to the server -------------------------------------------------------------------------------------

class Unauthorized extends Error {}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function call(path, options = {}) {
  const response = await fetch(path, { cache: "no-store", ...options, headers: authHeaders() });
  if (response.status === 401) {
    askForToken();
    throw new Unauthorized();
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

const tokenWaiters = []; // resolved when the login form is sent

function askForToken() {
  const login = $("login");
  if (!login.hidden) return;
  login.hidden = false;
  $("login-error").textContent = sessionStorage.getItem(TOKEN) ? "That token was refused." : "";
  $("token").focus();
}

function waitForToken() {
  return new Promise((resolve) => tokenWaiters.push(resolve));
}

function signIn(event) {
  event.preventDefault(); // the token never goes into a URL
  sessionStorage.setItem(TOKEN, $("token").value.trim());
  $("token").value = "";
  $("login").hidden = true;
  showSignOut();
  tokenWaiters.splice(0).forEach((resolve) => resolve());
  refreshSide();
}

function showSignOut() {
  $("sign-out").hidden = !sessionStorage.getItem(TOKEN);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow() {
  let delay = 500;
  for (;;) {
    try {
      const response = await fetch("feed", { cache: "no-store", headers: authHeaders() });
      if (response.status === 401) {
        setConnection("the admin token is needed", "off");
        askForToken();
        await waitForToken();
        continue;
      }
      if (!response.ok || !response.body) throw new Error(`feed: ${response.status}`);
      setConnection("live", "live");
      delay = 500;
      refreshSide();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          receive(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      console.debug("feed:", error);
    }
    setConnection("reconnecting…", "off");
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}

function setConnection(text, kind) {
  const element = $("connection");
  element.textContent = text;
  element.className = `connection ${kind}`;
}

function receive(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data.push(line.slice(6));
  }
  if (data.length && handlers[name]) handlers[name](JSON.parse(data.join("\n")));
}

const handlers = {
  snapshot(data) {
    state.entries.clear();
    state.journalSize = data.journal_size;
    setClock(data.now);
    data.requests.forEach(merge);
    setStats(data.stats);
    scheduleSide();
    draw();
  },
  requests(data) {
    setClock(data.now);
    data.requests.forEach(merge);
    trim();
    scheduleSide();
    draw();
  },
  stats: setStats,
  reset(data) {
    for (const [id, entry] of state.entries) {
      if (data.session === null || entry.session === data.session) state.entries.delete(id);
    }
    scheduleSide();
    draw();
  },
  resync() {}, // a snapshot follows
};

function setClock(now) {
  state.skew = now - Date.now() / 1000;
}

// A summary, whole or (for a stream in progress) only its new ticks: either way its ticks continue those known.
// The feed sends them flat, in microseconds; the page keeps [ms, chunks] pairs.
function merge(update) {
  const old = state.entries.get(update.id);
  if (!old && !("ended" in update)) return; // the progress of an entry this page dropped
  const fresh = [];
  for (let i = 0; i + 1 < update.ticks.length; i += 2) fresh.push([update.ticks[i] / 1000, update.ticks[i + 1]]);
  const ticks = update.ticks_from > 0 && old ? old.ticks.slice(0, update.ticks_from).concat(fresh) : fresh;
  state.entries.set(update.id, { ...old, ...update, ticks, v: ++state.version });
}

function trim() {
  const extra = state.entries.size - state.journalSize;
  if (extra <= 0) return;
  const ids = [...state.entries.keys()].sort((a, b) => a - b).slice(0, extra);
  ids.forEach((id) => state.entries.delete(id));
}

function setStats(stats) {
  $("stat-open").textContent = stats.open_streams;
  $("stat-flight").textContent = stats.in_flight;
  $("stat-answered").textContent = stats.answered;
}

// ---- the side panels: verdicts, sessions, scenarios -------------------------------------------------------------

let sideTimer = null;
let sideAt = 0; // when the side panels were last asked for

// The panels follow the journal at most once a second: under load, the verdicts are not asked for at every update.
function scheduleSide() {
  if (sideTimer === null) sideTimer = setTimeout(refreshSide, Math.max(300, sideAt + 1000 - Date.now()));
}

async function refreshSide() {
  clearTimeout(sideTimer);
  sideTimer = null;
  sideAt = Date.now();
  const session = $("session-filter").value;
  const query = session === "*" || session === "" ? "" : `?session=${encodeURIComponent(session)}`;
  try {
    const [verdict, sessions, scenarios] = await Promise.all([
      call(`verdicts${query}`),
      call("sessions"),
      call(`scenarios${query}`),
    ]);
    showVerdict(verdict);
    showSessions(sessions.sessions);
    showScenarios(scenarios.scenarios);
  } catch (error) {
    if (!(error instanceof Unauthorized)) console.debug("side panels:", error);
  }
}

function showVerdict(verdict) {
  const findings = (state.findings = verdict.findings);
  state.findingsOf = new Map();
  const list = $("findings");
  list.replaceChildren();
  findings.forEach((finding, index) => {
    const item = el("li", { id: `finding-${index}`, class: "finding", tabindex: "-1" });
    item.append(el("code", {}, finding.rule), " ", finding.message, " ");
    const links = el("span", { class: "links" }, "requests ");
    for (const id of finding.requests) {
      if (!state.findingsOf.has(id)) state.findingsOf.set(id, []);
      state.findingsOf.get(id).push(index);
      links.append(el("a", { href: `#req-${id}`, "data-request": id }, `#${id}`), " ");
    }
    item.append(links);
    list.append(item);
  });
  const count = findings.length;
  $("verdict-summary").textContent = count
    ? `${count} finding${count > 1 ? "s" : ""} in ${verdict.requests} requests (${verdict.calls} calls)`
    : `The client behaved: ${verdict.requests} requests, ${verdict.calls} calls, no finding.`;
  $("verdict-summary").className = count ? "summary bad" : "summary good";
  for (const row of state.rows.values()) row.dataset.v = ""; // their finding badges may have changed
  draw();
}

function showSessions(sessions) {
  const list = $("sessions");
  list.replaceChildren();
  for (const session of sessions) {
    const name = session.session === null ? "(no session)" : session.session;
    const item = el("li", {}, el("strong", {}, name), ` ${session.requests} request${session.requests === 1 ? "" : "s"}`);
    if (session.in_progress) item.append(`, ${session.in_progress} in progress`);
    if (session.scenarios) item.append(`, ${session.scenarios} own scenario${session.scenarios === 1 ? "" : "s"}`);
    if (session.use) item.append(el("span", { class: "note" }, ` use: ${session.use}`));
    if (session.session !== null) {
      const button = el("button", { type: "button", class: "danger", "aria-label": `Reset session ${name}` }, "Reset");
      button.addEventListener("click", () => reset(session.session));
      item.append(" ", button);
    }
    list.append(item);
  }
  if (!sessions.length) list.append(el("li", { class: "note" }, "none yet"));
  fillSelect($("session-filter"), "all sessions", [
    ...sessions.map((session) => session.session ?? ""),
    ...[...state.entries.values()].map((entry) => entry.session ?? ""),
  ], (value) => (value === "" ? "(no session)" : value));
}

function showScenarios(scenarios) {
  const list = $("scenarios");
  list.replaceChildren();
  for (const scenario of scenarios) {
    const item = el("li", {}, el("strong", {}, scenario.name), " ", el("span", { class: "source" }, scenario.source));
    const notes = [];
    if (scenario.steps) notes.push(`a sequence of ${scenario.steps} steps`);
    if (scenario.match) notes.push(`match ${Object.entries(scenario.match).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    if (scenario.session) notes.push(`session ${scenario.session}`);
    if (scenario.description) notes.push(scenario.description);
    if (notes.length) item.append(el("div", { class: "note" }, notes.join(" · ")));
    list.append(item);
  }
  $("scenarios-count").textContent = `(${scenarios.length})`;
  fillSelect($("scenario-filter"), "all scenarios", [
    ...scenarios.map((scenario) => scenario.name),
    ...[...state.entries.values()].map((entry) => entry.scenario).filter(Boolean),
  ]);
}

function fillSelect(select, all, values, label = (value) => value) {
  const chosen = select.value;
  const unique = [...new Set(values)].sort();
  if (chosen !== "*" && !unique.includes(chosen)) unique.push(chosen);
  select.replaceChildren(el("option", { value: "*" }, all), ...unique.map((value) => el("option", { value }, label(value))));
  select.value = chosen;
}

async function reset(session) {
  const query = session === null ? "" : `?session=${encodeURIComponent(session)}`;
  try {
    await call(`reset${query}`, { method: "POST" });
  } catch (error) {
    if (!(error instanceof Unauthorized)) alert(`The reset failed: ${error.message}`);
  }
  refreshSide();
}

// ---- the requests: grouped into calls, each with its timeline -------------------------------------------------

function failed(entry) {
  return entry.status === null || entry.status >= 400 || entry.ended !== "completed";
}

// Calls as the verdicts count them: consecutive requests of a session with the same body, each after a failed one.
function calls(entries) {
  const result = [];
  const last = new Map();
  for (const entry of entries) {
    if (entry.status === null && entry.ended === "in progress") {
      result.push([entry]);
      continue;
    }
    const chain = last.get(entry.session);
    if (chain && failed(chain[chain.length - 1]) && chain[chain.length - 1].call === entry.call) {
      chain.push(entry);
    } else {
      const started = [entry];
      result.push(started);
      last.set(entry.session, started);
    }
  }
  return result;
}

function visibleCalls() {
  const session = $("session-filter").value;
  const scenario = $("scenario-filter").value;
  const problems = $("problems-only").checked;
  const entries = [...state.entries.values()]
    .filter((entry) => session === "*" || (entry.session ?? "") === session)
    .sort((a, b) => a.id - b.id);
  return calls(entries)
    .filter((chain) => scenario === "*" || chain.some((entry) => entry.scenario === scenario))
    .filter((chain) => !problems || chain.some((entry) => failed(entry) && entry.ended !== "in progress" || state.findingsOf.has(entry.id)))
    .sort((a, b) => b[b.length - 1].id - a[a.length - 1].id); // the call with the newest request first
}

let drawing = false;

function draw() {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => {
    drawing = false;
    drawNow();
  });
}

function drawNow() {
  const chains = visibleCalls();
  const shown = chains.slice(0, state.shown);
  const list = $("calls");
  const keep = new Set();
  shown.forEach((chain, index) => {
    const key = chain[0].id;
    keep.add(key);
    let group = state.groups.get(key);
    if (!group) {
      group = el("li", { class: "call" });
      state.groups.set(key, group);
    }
    drawCall(group, chain);
    if (list.children[index] !== group) list.insertBefore(group, list.children[index] || null);
  });
  for (const [key, group] of state.groups) {
    if (!keep.has(key)) {
      group.remove();
      state.groups.delete(key);
    }
  }
  for (const id of state.rows.keys()) if (!state.entries.has(id)) state.rows.delete(id);
  $("more").hidden = chains.length <= state.shown;
  $("empty").hidden = state.entries.size > 0;
  const entries = [...state.entries.values()];
  $("requests-count").textContent = `(${entries.length} kept of ${state.journalSize})`;
  $("stat-errors").textContent = entries.filter((entry) => entry.ended !== "in progress" && failed(entry)).length;
}

function drawCall(group, chain) {
  const rows = chain.map(row);
  const signature = chain.map((entry) => `${entry.id}:${entry.v}`).join(",");
  if (group.dataset.signature !== signature) {
    group.dataset.signature = signature;
    const parts = [];
    if (chain.length > 1) parts.push(chainView(chain));
    group.replaceChildren(...parts, ...rows);
  }
}

function row(entry) {
  let article = state.rows.get(entry.id);
  if (!article) {
    article = el("article", { id: `req-${entry.id}`, class: "request", tabindex: "-1" });
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false", "aria-controls": `req-${entry.id}-details` });
    toggle.addEventListener("click", () => toggleDetails(entry.id, article, toggle));
    const details = el("pre", { id: `req-${entry.id}-details`, class: "details", hidden: "" });
    article.append(el("header", {}, toggle, el("span", { class: "facts" })), el("div", { class: "timeline" }), details);
    state.rows.set(entry.id, article);
  }
  const version = `${entry.v}:${state.findings.length}`;
  if (article.dataset.v !== version || entry.ended === "in progress") {
    article.dataset.v = version;
    fillRow(article, entry);
  }
  return article;
}

function fillRow(article, entry) {
  const live = entry.ended === "in progress";
  article.className = `request ${live ? "live" : failed(entry) ? "bad" : "good"}`;
  article.dataset.status = entry.status ?? "";
  article.dataset.ended = entry.ended;
  article.querySelector(".toggle").textContent = `#${entry.id} ${clock(entry.time)}`;
  const facts = article.querySelector(".facts");
  facts.replaceChildren();
  if (entry.session) facts.append(el("span", { class: "session" }, entry.session));
  facts.append(el("span", { class: "endpoint" }, entry.path.replace(/^\/session\/[^/]+/, "")));
  if (entry.scenario) {
    const how = [entry.step && entry.step > 1 ? `step ${entry.step}` : null, entry.chosen_by && `by ${entry.chosen_by}`];
    facts.append(el("span", { class: "scenario" }, entry.scenario, " ", el("small", {}, how.filter(Boolean).join(", "))));
  }
  const status = live ? (entry.ticks.length ? "streaming" : "waiting") : entry.status ?? "no answer";
  facts.append(el("span", { class: `status s${String(entry.status ?? "none")[0]}` }, String(status)));
  if (entry.fault) facts.append(el("span", { class: "fault" }, `fault: ${entry.fault}`));
  else if (!live && entry.ended !== "completed") facts.append(el("span", { class: "ended" }, entry.ended));
  if (entry.fault && entry.ended === "client disconnected") facts.append(el("span", { class: "ended" }, entry.ended));
  if (entry.chaos) facts.append(el("span", { class: "chaos" }, `chaos: ${entry.chaos}`));
  if (entry.retry_count) facts.append(el("span", { class: "retry" }, `retry ${entry.retry_count}`));
  for (const index of state.findingsOf.get(entry.id) || []) {
    facts.append(el("a", { class: "flag", href: `#finding-${index}` }, `${index + 1} ${state.findings[index].rule}`));
  }
  const timeline = article.querySelector(".timeline");
  const nowMs = (Date.now() / 1000 + state.skew - entry.time) * 1000;
  timeline.replaceChildren(requestTimeline(entry, nowMs), el("p", { class: "caption" }, caption(entry, nowMs)));
  if (entry.error && !live) {
    const miss = entry.error.code === "scenario_not_found";
    const why = el("p", { class: miss ? "miss" : "error", title: entry.error.message }, miss ? "Nothing matched: " : "Error: ");
    why.append(entry.error.message);
    timeline.append(why);
  }
}

async function toggleDetails(id, article, toggle) {
  const details = article.querySelector(".details");
  const opening = details.hidden;
  details.hidden = !opening;
  toggle.setAttribute("aria-expanded", String(opening));
  if (!opening) return;
  details.textContent = "loading…";
  try {
    details.textContent = JSON.stringify(await call(`requests/${id}`), null, 2);
  } catch (error) {
    details.textContent = error instanceof Unauthorized ? "The admin token is needed." : `Not available: ${error.message}`;
  }
}

// ---- drawing time ------------------------------------------------------------------------------------------------

function endOf(entry, nowMs) {
  const ticks = entry.ticks;
  const last = ticks.length ? ticks[ticks.length - 1][0] : 0;
  return entry.ended === "in progress" ? Math.max(last, nowMs) : entry.duration_ms ?? last;
}

// One request: waiting for the headers, then each write as a tick (taller for more chunks), the first token,
// stalls and faults where they were played. Its own scale, so that the shape of any stream shows.
function requestTimeline(entry, nowMs) {
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

function caption(entry, nowMs) {
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
function chainView(chain) {
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

// ---- small helpers ---------------------------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
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

function ms(value) {
  if (value >= 1000) return secs(value / 1000);
  return value >= 10 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

function secs(value) {
  return value >= 10 ? `${value.toFixed(1)} s` : `${value.toFixed(2)} s`;
}

function clock(time) {
  const date = new Date(time * 1000);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

// A link to a request (from a finding) or to a finding (from a request): show it, even past the filters, and
// move the focus there.
function goTo(event) {
  const link = event.target.closest("a[href^='#']");
  if (!link) return;
  const target = link.getAttribute("href").slice(1);
  if (target.startsWith("req-") && !$(target)) {
    $("session-filter").value = "*";
    $("scenario-filter").value = "*";
    $("problems-only").checked = false;
    state.shown = Infinity;
    drawNow();
  }
  const element = $(target);
  if (!element) return;
  event.preventDefault();
  element.scrollIntoView({ block: "center" });
  element.focus({ preventScroll: true });
  element.classList.remove("flash");
  void element.offsetWidth; // restart the animation
  element.classList.add("flash");
  history.replaceState(null, "", `#${target}`);
}

function start() {
  $("base-url").textContent = new URL("../v1", location.href).href;
  for (const id of ["session-filter", "scenario-filter", "problems-only"]) {
    $(id).addEventListener("change", () => {
      state.shown = SHOWN;
      drawNow();
      if (id === "session-filter") refreshSide();
    });
  }
  $("more").addEventListener("click", () => {
    state.shown += SHOWN;
    drawNow();
  });
  $("reset-all").addEventListener("click", () => {
    if (confirm("Forget every request, sequence count and use() of every session?")) reset(null);
  });
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN);
    location.reload();
  });
  document.addEventListener("click", goTo);
  $("login").addEventListener("submit", signIn);
  showSignOut();
  fetch("health", { cache: "no-store" })
    .then((response) => response.json())
    .then((health) => ($("server").textContent = `${health.version} · pid ${health.pid}`))
    .catch(() => {});
  // Streams still running are redrawn as time passes, between the feed's updates.
  setInterval(() => {
    for (const entry of state.entries.values()) {
      if (entry.ended === "in progress") {
        const article = state.rows.get(entry.id);
        if (article && article.isConnected) fillRow(article, entry);
      }
    }
  }, 250);
  follow();
}

start();
