// The templates grid: for each usage type × language, the level a send's template comes from
// (`GET /v1/apps/{id}/templates/levels`): the app's own, the app's default language, the
// config, or shipped. A cell opens the editor (template-editor.js) for that pair. A table
// where it fits, one card per usage type on narrow screens (admin.css `.reflow`).
import { api } from "./api.js";
import { el, clear, keepingFocus } from "./dom.js";
import { errorNode } from "./errors.js";
import { state, canWrite, currentApp } from "./state.js";
import { LEVELS, openTemplate } from "./template-editor.js";

const TAG = /^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8}){0,3}$/;
const field = (id) => document.getElementById(id);
let shown = "";
let ticket = 0;

export function initTemplates() {
  state.refreshTemplates = () => loadTemplates({ force: true });
  field("t-languages-apply").addEventListener("click", () => loadTemplates({ force: true }));
  field("t-languages").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      loadTemplates({ force: true });
    }
  });
}

// The tags typed (valid ones, at most 8), else the app's default language and English.
function languages() {
  const typed = field("t-languages").value.split(/[\s,]+/).filter((tag) => TAG.test(tag));
  const app = currentApp() || {};
  const tags = typed.length ? typed : [app.defaultLocale, "en"].filter(Boolean);
  return [...new Set(tags)].slice(0, 8);
}

export async function loadTemplates({ force = false } = {}) {
  const grid = field("t-grid");
  const errors = clear(field("t-grid-error"));
  if (!state.appId) {
    clear(grid);
    shown = "";
    return;
  }
  const tags = languages();
  const params = new URLSearchParams();
  for (const tag of tags) params.append("locale", tag);
  const mine = ++ticket;
  try {
    const { data } = await api.templateLevels(state.appId, params);
    if (mine !== ticket) return;
    const snapshot = JSON.stringify([state.appId, tags, data]);
    if (!force && snapshot === shown) return;
    shown = snapshot;
    keepingFocus(() => clear(grid).append(table(data, tags)));
  } catch (error) {
    if (mine === ticket) errors.append(errorNode(error, { withHint: false }));
  }
}

function table(cells, tags) {
  const usages = [...new Set(cells.map((cell) => cell.usageType))];
  const at = new Map(cells.map((cell) => [`${cell.usageType} ${cell.locale}`, cell]));
  const verb = canWrite() ? "Edit" : "View";
  return el(
    "table",
    { class: "tpl-grid reflow" },
    el("caption", { class: "visually-hidden", text: "Template levels by usage type and language" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Usage type" }), tags.map((tag) => el("th", { scope: "col", text: tag })))),
    el("tbody", {}, usages.map((usage) => el("tr", {},
      el("th", { scope: "row", text: usage }),
      tags.map((tag) => {
        const cell = at.get(`${usage} ${tag}`);
        if (!cell) return el("td", { "data-label": tag, text: "—" });
        const filled = cell.templateUsageType !== usage ? ` (${cell.templateUsageType})` : "";
        const text = `${LEVELS[cell.level] || cell.level}${filled}`;
        return el("td", { "data-label": tag }, el("button", {
          type: "button",
          class: `level level-${cell.level}`,
          id: `tpl-${usage}-${tag}`,
          "data-level": cell.level,
          "aria-label": `${verb} ${usage} in ${tag}: ${text}`,
          onclick: (event) => openTemplate(usage, tag, event.currentTarget),
        }, text));
      })))),
  );
}
