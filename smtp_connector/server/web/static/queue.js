// The queue panel: the chosen app's counts by status (`GET /v1/queue?appId=`) and its recent
// messages (`GET /v1/apps/{id}/messages`: newest first, recipients masked, a status filter,
// "Older messages" for the next page). Shown only when the service runs a queue (hidden on
// 404). The message table turns into one card per message on narrow screens (admin.css).
import { api } from "./api.js";
import { el, clear, keepingFocus, ago } from "./dom.js";
import { errorNode } from "./errors.js";
import { state } from "./state.js";

const field = (id) => document.getElementById(id);
const PAGE = 10;
let counted = "";
let list = { appId: null, status: "", rows: [], next: null, shown: "" };
let latest = 0; // a slow answer for a previous app or filter must not overwrite the current one

export function initQueue() {
  field("q-lookup").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = field("q-id").value.trim();
    const out = clear(field("q-message"));
    if (!id) return;
    try {
      const { data } = await api.message(id);
      out.append(messageTable([data], "Looked-up message"));
    } catch (error) {
      out.append(errorNode(error, { withHint: false }));
    }
  });
  field("q-status").addEventListener("change", () => loadMessages());
  field("q-more").addEventListener("click", () => loadMessages({ more: true }));
}

export async function loadQueue() {
  const section = field("queue");
  let answer;
  try {
    answer = await api.queue(state.appId);
  } catch {
    section.hidden = true;
    return;
  }
  if (answer.status !== 200 || !answer.data || typeof answer.data !== "object") {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const snapshot = JSON.stringify(answer.data);
  if (snapshot !== counted) {
    counted = snapshot;
    keepingFocus(() => renderCounts(answer.data));
  }
  await loadMessages({ refresh: true });
}

// The first page again (a change of app or filter starts over); a refresh leaves a list the
// person has paged through alone, so "Older messages" never jumps back under them.
async function loadMessages({ more = false, refresh = false } = {}) {
  const status = field("q-status").value;
  if (list.appId !== state.appId || list.status !== status) {
    list = { appId: state.appId, status, rows: [], next: null, shown: "" };
  } else if (refresh && list.rows.length > PAGE) {
    return;
  }
  if (!state.appId) return renderMessages();
  const params = { limit: String(PAGE) };
  if (status) params.status = status;
  if (more && list.next) params.cursor = list.next;
  const ticket = ++latest;
  const answer = await api.recentMessages(state.appId, params);
  if (ticket !== latest || answer.status !== 200) return;
  list.rows = more ? [...list.rows, ...answer.data] : answer.data;
  list.next = answer.next;
  renderMessages();
}

function renderMessages() {
  const snapshot = JSON.stringify([list.rows, list.next]);
  if (snapshot === list.shown) return;
  list.shown = snapshot;
  keepingFocus(() => {
    const out = clear(field("q-recent"));
    const filtered = list.status ? ` with status ${list.status}` : "";
    if (list.rows.length === 0) out.append(el("p", { class: "muted", text: `No queued messages${filtered} for this app yet.` }));
    else out.append(messageTable(list.rows, "Recent messages"));
    field("q-more").hidden = !list.next;
  });
}

// Names for the fields `GET /v1/queue` has today; any other field is shown under its own name.
const LABELS = {
  engine: "Engine",
  depth: "Messages by status",
  oldestQueuedAge: "Oldest queued message (seconds)",
  sentLastMinute: "Sent in the last minute",
  failedLastMinute: "Failed in the last minute",
  retriedLastMinute: "Retried in the last minute",
};

function label(key) {
  return LABELS[key] || key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}

function scalar(value) {
  if (value === null || value === undefined) return "—";
  return typeof value === "number" && !Number.isInteger(value) ? value.toFixed(1) : String(value);
}

function renderCounts(data) {
  const summary = clear(field("q-summary"));
  const scalars = el("dl", { class: "facts" });
  for (const [key, value] of Object.entries(data)) {
    if (key === "appId") continue; // the panel always counts the chosen app
    if (value === null || typeof value !== "object") {
      scalars.append(el("dt", { text: label(key) }), el("dd", { text: scalar(value) }));
    } else if (!Array.isArray(value)) {
      summary.append(countTable(label(key), value));
    }
  }
  if (scalars.childElementCount) summary.append(scalars);
}

function countTable(caption, counts) {
  return el(
    "table",
    { class: "counts" },
    el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Status" }), el("th", { scope: "col", text: "Messages" }))),
    el("tbody", {}, Object.entries(counts).map(([status, count]) =>
      el("tr", {}, el("th", { scope: "row", text: status }), el("td", { text: typeof count === "object" ? JSON.stringify(count) : String(count) })))),
  );
}

function lastError(error) {
  if (!error) return "—";
  if (typeof error === "string") return error;
  return errorNode(error);
}

const COLUMNS = [
  ["Queued", (row) => (row.created ? el("time", { datetime: row.created, title: row.created, text: ago(row.created) }) : "—")],
  ["To", (row) => row.to ?? "—"],
  ["Status", (row) => el("span", { class: `badge state-${row.status}`, text: row.status ?? "" })],
  ["Usage type", (row) => row.usageType ?? "—"],
  ["Attempts", (row) => String(row.attempts ?? "")],
  ["Last error", (row) => lastError(row.lastError)],
  ["Server", (row) => row.server ?? "—"],
  ["Id", (row) => el("code", { class: "message-id", text: row.id ?? "" })],
];

function messageTable(rows, caption) {
  return el(
    "table",
    { class: "messages" },
    el("caption", { class: "visually-hidden", text: caption }),
    el("thead", {}, el("tr", {}, COLUMNS.map(([name]) => el("th", { scope: "col", text: name })))),
    el("tbody", {}, rows.map((row) =>
      el("tr", { "data-id": row.id, "data-status": row.status }, COLUMNS.map(([name, cell]) =>
        el("td", { "data-label": name }, cell(row)))))),
  );
}
