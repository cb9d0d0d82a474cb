// The template editor: subject, content, content type, Reply-To and From of the app's own
// template for one usage type × language; a live preview as you type (debounced, through
// `POST /v1/apps/{id}/templates/preview`: the same renderer, sandbox and variables as a send,
// shown in a sandboxed iframe); save, delete, history with revert, and a test send of the
// edit as it stands, saved or not.
import { api } from "./api.js";
import { el, clear, announce, ago } from "./dom.js";
import { errorNode } from "./errors.js";
import { state, canWrite, currentApp } from "./state.js";

export const LEVELS = { app: "app", defaultLocale: "default language", config: "config", shipped: "shipped", posted: "edited" };
const field = (id) => document.getElementById(id);
const SAMPLE = { code: "123456", link: "https://example.com/invitation/accept?token=example" };
let current = null; // {usage, locale, stored: the saved template or null}
let returnFocus = null;
let timer = 0;
let ticket = 0; // only the last preview's answer is shown

export function initTemplateEditor() {
  for (const id of ["t-subject", "t-content", "t-content-type", "t-reply-to", "t-send-from"]) {
    field(id).addEventListener("input", schedulePreview);
  }
  field("t-editor").addEventListener("submit", (event) => {
    event.preventDefault();
    if (canWrite()) save();
  });
  field("t-close").addEventListener("click", close);
  field("t-delete")?.addEventListener("click", remove);
  field("t-test")?.addEventListener("click", testSend);
  field("t-editor").addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
}

export async function openTemplate(usage, locale, trigger) {
  returnFocus = trigger;
  const { status, data } = await api.template(state.appId, usage, locale);
  current = { usage, locale, stored: status === 200 ? data : null };
  fill(current.stored);
  clear(field("t-error"));
  clear(field("t-test-result"));
  const test = field("t-test-to");
  if (test) test.value = (currentApp() || {}).testEmail || "";
  field("t-editor").hidden = false;
  showTitle();
  field("t-editor-title").focus();
  await Promise.all([preview(), history()]);
}

function fill(template) {
  field("t-subject").value = template ? template.subject : "";
  field("t-content").value = template ? template.content : "";
  field("t-content-type").value = template ? template.contentType : "text/html";
  field("t-reply-to").value = (template && template.replyTo) || "";
  field("t-send-from").value = (template && template.sendFrom) || "";
  for (const id of ["t-subject", "t-content", "t-content-type", "t-reply-to", "t-send-from"]) {
    field(id).readOnly = !canWrite();
  }
}

function showTitle() {
  const { usage, locale, stored } = current;
  const what = stored ? `the app's own, version ${stored.version}` : "none of the app's own yet: the preview shows what sends use now";
  field("t-editor-title").textContent = `${usage} · ${locale} — ${what}`;
  const remove = field("t-delete");
  if (remove) remove.hidden = !stored;
}

function close() {
  field("t-editor").hidden = true;
  current = null;
  // The grid may have been drawn again meanwhile: the cell with the same id, if it is gone.
  const back = returnFocus && (document.body.contains(returnFocus) ? returnFocus : document.getElementById(returnFocus.id));
  if (back) back.focus();
}

// The edit as a template, or null while subject or content is empty (then the preview shows
// the template sends use now).
function edited() {
  const subject = field("t-subject").value;
  const content = field("t-content").value;
  if (!subject.trim() || !content.trim()) return null;
  const template = { subject, content, contentType: field("t-content-type").value };
  const replyTo = field("t-reply-to").value.trim();
  const sendFrom = field("t-send-from").value.trim();
  if (replyTo) template.replyTo = replyTo;
  if (sendFrom) template.sendFrom = sendFrom;
  return template;
}

function schedulePreview() {
  window.clearTimeout(timer);
  field("t-preview-state").textContent = "Preview (updating…)";
  timer = window.setTimeout(preview, 300);
}

async function preview() {
  if (!current) return;
  const mine = ++ticket;
  const body = { usageType: current.usage, locale: current.locale, payload: SAMPLE };
  const template = edited();
  if (template) body.template = template;
  const errors = clear(field("t-preview-error"));
  try {
    const { data } = await api.previewTemplate(state.appId, body);
    if (mine !== ticket) return;
    field("t-preview-state").textContent = `Preview: ${data.level === "posted" ? "this edit" : `the ${LEVELS[data.level] || data.level} template`} (${data.locale || "default"})`;
    field("t-preview-subject").textContent = data.subject;
    field("t-preview-from").textContent = data.from || "—";
    field("t-preview-html").srcdoc = data.html || "<p>(no HTML part)</p>";
    field("t-preview-text").textContent = data.text || "(no text part)";
    const warnings = clear(field("t-warnings"));
    for (const warning of data.warnings || []) warnings.append(el("li", { text: warning }));
  } catch (error) {
    if (mine !== ticket) return;
    field("t-preview-state").textContent = "Preview (not updated: the template has an error)";
    errors.append(errorNode(error, { withHint: false }));
  }
}

async function save() {
  const out = clear(field("t-error"));
  const template = edited();
  if (!template) {
    out.append(el("p", { text: "Subject and Content are both needed to save a template." }));
    field(field("t-subject").value.trim() ? "t-content" : "t-subject").focus();
    return false;
  }
  try {
    const { data } = await api.saveTemplate(state.appId, current.usage, current.locale, template);
    current.stored = data;
    showTitle();
    announce(`Saved ${current.usage} in ${current.locale}, version ${data.version}`);
    field("t-test-result").textContent = `Saved version ${data.version}.`;
    await Promise.all([history(), state.refreshTemplates()]);
    return true;
  } catch (error) {
    out.append(errorNode(error, { withHint: false }));
    return false;
  }
}

async function remove() {
  if (!window.confirm(`Delete the app's ${current.usage} template in ${current.locale} and its history?`)) return;
  try {
    await api.deleteTemplate(state.appId, current.usage, current.locale);
    current.stored = null;
    fill(null);
    showTitle();
    announce("Template deleted");
    await Promise.all([preview(), history(), state.refreshTemplates()]);
  } catch (error) {
    clear(field("t-error")).append(errorNode(error, { withHint: false }));
  }
}

async function history() {
  const list = clear(field("t-history"));
  if (!current || !current.stored) {
    list.append(el("li", { class: "muted", text: "No saved versions." }));
    return;
  }
  const { status, data } = await api.templateHistory(state.appId, current.usage, current.locale);
  if (status !== 200) return;
  data.forEach((entry, index) => {
    const item = el("li", {}, el("strong", { text: `Version ${entry.version}` }),
      ` · ${entry.action} ${ago(entry.changedAt)} by ${entry.changedBy} · `, el("span", { class: "muted", text: entry.subject }));
    if (index > 0 && canWrite()) {
      item.append(" ", el("button", { type: "button", onclick: () => revert(entry.version), "aria-label": `Revert to version ${entry.version}` }, "Revert"));
    }
    list.append(item);
  });
}

async function revert(version) {
  try {
    const { data } = await api.revertTemplate(state.appId, current.usage, current.locale, version);
    current.stored = data;
    fill(data);
    showTitle();
    announce(`Reverted to version ${version}: now version ${data.version}`);
    await Promise.all([preview(), history(), state.refreshTemplates()]);
  } catch (error) {
    clear(field("t-error")).append(errorNode(error, { withHint: false }));
  }
}

// The edit as it is, saved or not (`POST …/templates/test`: once, through the app's servers).
async function testSend() {
  const out = field("t-test-result");
  out.textContent = "";
  const to = field("t-test-to").value.trim();
  if (!to) {
    out.textContent = "Type the address to send the test to.";
    field("t-test-to").focus();
    return;
  }
  out.textContent = `Sending to ${to}…`;
  const body = { to, usageType: current.usage, locale: current.locale, payload: SAMPLE };
  const template = edited();
  if (template) body.template = template;
  try {
    const { data } = await api.testTemplate(state.appId, body);
    out.textContent = `Sent to ${data.to} through ${data.server}: ${data.response}`;
    announce(`Test sent to ${data.to}`);
  } catch (error) {
    clear(out).append(errorNode(error));
  }
}
