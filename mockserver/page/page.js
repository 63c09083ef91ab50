// mockserver's own page: the journal as it happens, from the feed, with the verdicts, sessions and scenarios of
// the control API beside it. Every URL is relative to the page, /_mock/.
import { caption, chainView, clock, el, failed, requestTimeline } from "./draw.js";
import { Unauthorized, call, follow, forgetToken, showSignOut, signIn } from "./feed.js";

const SHOWN = 200; // calls drawn at first; "Show older requests" adds as many again

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

// ---- what the feed says --------------------------------------------------------------------------------------------

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

// ---- moving around -----------------------------------------------------------------------------------------------

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
    forgetToken();
    location.reload();
  });
  document.addEventListener("click", goTo);
  $("login").addEventListener("submit", (event) => signIn(event, refreshSide));
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
  follow(handlers, refreshSide);
}

start();
