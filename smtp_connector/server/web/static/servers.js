// The app's server definitions in priority order: status, errors in words, and the actions
// (Check, Send test email, Edit, Move up/down, Delete) with their results inline.
import { api } from "./api.js";
import { $, el, clear, announce, keepingFocus, address } from "./dom.js";
import { errorNode, words } from "./errors.js";
import { state, canWrite, currentApp } from "./state.js";

const SECURITY = { none: "no TLS", starttls: "STARTTLS", tls: "TLS" };
// Per definition id: the last action's result and the test-send form's state, kept across
// re-renders so an auto-refresh never wipes what a person is reading or typing.
const results = new Map();
const testForms = new Map();
let rendered = "";

export function title(server) {
  return server.name || `${server.host}:${server.port}`;
}

let latest = 0; // a slow answer for a previous app must not overwrite the current one

export async function loadServers({ force = false } = {}) {
  const ticket = ++latest;
  const servers = state.appId ? (await api.servers(state.appId)).data : [];
  if (ticket !== latest) return;
  state.servers = servers;
  const snapshot = JSON.stringify([state.appId, state.servers]);
  if (force || snapshot !== rendered) {
    rendered = snapshot;
    keepingFocus(render);
  }
}

export function render() {
  const list = clear($("#server-list"));
  $("#no-servers").hidden = state.servers.length > 0 || !state.appId;
  state.servers.forEach((server, index) => list.append(item(server, index)));
}

function item(server, index) {
  const active = server.status === "active";
  const badges = el(
    "span",
    { class: "badges" },
    el("span", { class: `badge ${active ? "ok" : "bad"}`, id: `status-${server.id}`, text: active ? "Active" : "Disabled" }),
    server.isDefault ? el("span", { class: "badge default", text: "★ Default" }) : null,
  );
  const facts = el(
    "dl",
    { class: "facts" },
    fact("Server", [address(`${server.host}:${server.port}`), ` · ${SECURITY[server.security] || server.security}`]),
    fact("Login", server.auth && server.username ? server.username : "none"),
    fact("Password", server.password ? "stored" : "none"),
    fact("From", server.fromEmail ? `${server.fromName ? server.fromName + " " : ""}<${server.fromEmail}>` : "—"),
    fact("Priority", String(server.priority)),
    fact("Errors", String(server.numErrors), `errors-${server.id}`),
    lastError(server),
  );
  const node = el(
    "li",
    { class: `server ${active ? "" : "disabled"}`, "data-id": server.id, "aria-labelledby": `title-${server.id}` },
    el("div", { class: "server-head" }, el("h3", { id: `title-${server.id}` }, el("span", { class: "position", text: `${index + 1}.` }), " ", title(server)), badges),
    facts,
  );
  if (canWrite()) {
    node.append(actions(server, index));
    node.append(testForm(server));
  }
  const result = el("div", { class: "result", id: `result-${server.id}`, role: "status", "aria-live": "polite" });
  if (results.has(server.id)) result.append(results.get(server.id)());
  node.append(result);
  return node;
}

function fact(term, value, id) {
  return [el("dt", { text: term }), el("dd", { id }, value)];
}

// A failed check disables the server; only a passing check (or an admin) makes it active
// again. So an active server's stored error is history: labelled "Previous error", without
// the hint, and not in the error colour.
function lastError(server) {
  const id = `last-error-${server.id}`;
  if (!server.lastError) return fact("Last error", "none", id);
  if (server.status !== "active") return fact("Last error", errorNode(server.lastError), id);
  const [term, value] = fact("Previous error", errorNode(server.lastError, { withHint: false }), id);
  value.classList.add("previous");
  value.prepend(el("p", { class: "muted", text: "Before the server was active again (a check passed since, or it was re-enabled):" }));
  return [term, value];
}

function button(label, id, onclick, extra = {}) {
  return el("button", { type: "button", id, onclick, ...extra }, label);
}

function actions(server, index) {
  const name = title(server);
  const last = state.servers.length - 1;
  return el(
    "div",
    { class: "actions" },
    button("Check", `check-${server.id}`, () => check(server), { "aria-label": `Check ${name}` }),
    button("Send test email", `test-${server.id}`, () => toggleTest(server), {
      "aria-expanded": String(testForms.has(server.id)),
      "aria-controls": `test-form-${server.id}`,
      "aria-label": `Send test email through ${name}`,
    }),
    button("Edit", `edit-${server.id}`, (event) => state.openEditor(server, event.currentTarget), { "aria-label": `Edit ${name}` }),
    button("Move up", `up-${server.id}`, () => move(index, -1, `up-${server.id}`), { disabled: index === 0, "aria-label": `Move up: ${name}` }),
    button("Move down", `down-${server.id}`, () => move(index, 1, `down-${server.id}`), { disabled: index === last, "aria-label": `Move down: ${name}` }),
    button("Delete", `delete-${server.id}`, () => remove(server), { class: "danger", "aria-label": `Delete ${name}` }),
  );
}

function testForm(server) {
  const open = testForms.get(server.id);
  const input = el("input", { id: `test-to-${server.id}`, type: "email", required: true, autocomplete: "off" });
  input.value = open ? open.to : "";
  input.addEventListener("input", () => testForms.set(server.id, { to: input.value }));
  const form = el(
    "form",
    { class: "row test-form", id: `test-form-${server.id}`, hidden: !open },
    el("label", { for: input.id, text: "Recipient" }),
    input,
    el("button", { type: "submit", id: `test-send-${server.id}`, text: "Send" }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendTest(server, input.value.trim());
  });
  return form;
}

function show(server, makeNode) {
  results.set(server.id, makeNode);
  const area = document.getElementById(`result-${server.id}`);
  if (area) clear(area).append(makeNode());
}

function working(server, text) {
  show(server, () => el("p", { class: "muted", text }));
}

async function check(server) {
  const to = (currentApp() || {}).testEmail;
  working(server, `Checking ${title(server)}…`);
  try {
    const { status, data } = await api.check(state.appId, server.id);
    if (status === 200) {
      show(server, () => el("p", { class: "success", text: `Check passed: a test message to ${to} was accepted. Status: active.` }));
      announce(`Check passed for ${title(server)}`);
    } else {
      // The error itself is shown once, under Last error (with its hint), not here again.
      show(server, () => el("p", { class: "failure" }, el("strong", { text: "Check failed" }),
        `: ${words(data.error.code)} (${data.error.code}). The server is now disabled; see Last error above.`));
      announce(`Check failed for ${title(server)}: ${data.error.message}`);
    }
  } catch (error) {
    show(server, () => errorNode(error));
  }
  await loadServers();
}

function toggleTest(server) {
  if (testForms.has(server.id)) {
    testForms.delete(server.id);
  } else {
    testForms.set(server.id, { to: (currentApp() || {}).testEmail || "" });
  }
  keepingFocus(render);
  if (testForms.has(server.id)) document.getElementById(`test-to-${server.id}`).focus();
}

async function sendTest(server, to) {
  working(server, `Sending a test email to ${to}…`);
  try {
    const { data } = await api.testEmail(state.appId, server.id, to);
    show(server, () => el("p", { class: "success", text: `Test email to ${data.to} accepted by ${data.server}: ${data.response}` }));
    announce(`Test email sent to ${to}`);
  } catch (error) {
    show(server, () => el("div", { class: "failure" }, el("p", { text: "The test email was not sent." }), errorNode(error)));
    announce(`Test email failed: ${error.message}`);
  }
}

// Reorder: swap with the neighbour, then number the whole list 0, 1, 2 … so the order on the
// screen is the order sends take, whatever priorities were stored before.
async function move(index, delta, focusId) {
  const order = [...state.servers];
  const [moved] = order.splice(index, 1);
  order.splice(index + delta, 0, moved);
  try {
    for (const [priority, server] of order.entries()) {
      if (server.priority !== priority) {
        await api.updateServer(state.appId, server.id, { priority });
      }
    }
    announce(`${title(moved)} moved to position ${index + delta + 1}`);
  } catch (error) {
    show(moved, () => errorNode(error));
  }
  await loadServers({ force: true });
  const target = document.getElementById(focusId);
  const fallback = document.getElementById(`${delta < 0 ? "down" : "up"}-${moved.id}`);
  (target && !target.disabled ? target : fallback)?.focus();
}

async function remove(server) {
  if (!window.confirm(`Delete the server ${title(server)}? Its stored password goes with it.`)) return;
  try {
    await api.deleteServer(state.appId, server.id);
    results.delete(server.id);
    announce(`${title(server)} deleted`);
    await loadServers({ force: true });
    $("#servers-title").focus();
  } catch (error) {
    show(server, () => errorNode(error));
  }
}
