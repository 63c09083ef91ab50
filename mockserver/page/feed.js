// Talking to the control API: the admin token (asked for once, kept in this tab's session storage), calls, and the
// feed — server-sent events read with fetch, so that the token can go in a header.

const TOKEN = "mockserver.admin-token"; // sessionStorage: this tab only, gone when it closes
const $ = (id) => document.getElementById(id);

export class Unauthorized extends Error {}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function call(path, options = {}) {
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

export function signIn(event, then) {
  event.preventDefault(); // the token never goes into a URL
  sessionStorage.setItem(TOKEN, $("token").value.trim());
  $("token").value = "";
  $("login").hidden = true;
  showSignOut();
  tokenWaiters.splice(0).forEach((resolve) => resolve());
  then();
}

export function showSignOut() {
  $("sign-out").hidden = !sessionStorage.getItem(TOKEN);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Follow the feed for ever, reconnecting with backoff; each event goes to `handlers[name](data)`.
export async function follow(handlers, connected) {
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
      connected();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          receive(buffer.slice(0, end), handlers);
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

function receive(block, handlers) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data.push(line.slice(6));
  }
  if (data.length && handlers[name]) handlers[name](JSON.parse(data.join("\n")));
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN);
}
