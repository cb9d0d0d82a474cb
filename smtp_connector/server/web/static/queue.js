// The queue panel: shown only when the service answers `GET /v1/queue` (the queue is an
// optional part of the service), hidden on 404. Renders whatever counts and recent messages
// the answer carries, so a new field shows up without a page change.
import { api } from "./api.js";
import { el, clear, keepingFocus } from "./dom.js";
import { errorNode, words } from "./errors.js";

const field = (id) => document.getElementById(id);
let rendered = "";

export function initQueue() {
  field("q-lookup").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = field("q-id").value.trim();
    const out = clear(field("q-message"));
    if (!id) return;
    try {
      const { data } = await api.message(id);
      out.append(messageTable([data]));
    } catch (error) {
      out.append(errorNode(error, { withHint: false }));
    }
  });
}

export async function loadQueue() {
  const section = field("queue");
  let answer;
  try {
    answer = await api.queue();
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
  if (snapshot === rendered) return;
  rendered = snapshot;
  keepingFocus(() => render(answer.data));
}

// Names for the fields `GET /v1/queue` has today; any other field is shown under its own name.
const LABELS = {
  engine: "Engine",
  appId: "Counted for app (— means every app)",
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

function render(data) {
  const summary = clear(field("q-summary"));
  const recent = clear(field("q-recent"));
  const scalars = el("dl", { class: "facts" });
  for (const [key, value] of Object.entries(data)) {
    if (value === null || typeof value !== "object") {
      scalars.append(el("dt", { text: label(key) }), el("dd", { text: scalar(value) }));
    } else if (Array.isArray(value)) {
      recent.append(el("h3", { text: label(key) }), messageTable(value));
    } else {
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
  return `${words(error.code)}: ${error.message || ""}`;
}

function messageTable(rows) {
  const wrap = el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Messages" });
  wrap.append(el(
    "table",
    { class: "messages" },
    el("thead", {}, el("tr", {}, ["Id", "Status", "Attempts", "Last error", "Server"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows.map((row) =>
      el("tr", {},
        el("td", { class: "mono", text: row.id ?? "" }),
        el("td", {}, el("span", { class: `badge state-${row.status}`, text: row.status ?? "" })),
        el("td", { text: String(row.attempts ?? "") }),
        el("td", { text: lastError(row.lastError) }),
        el("td", { text: row.server ?? "" })))),
  ));
  return wrap;
}
