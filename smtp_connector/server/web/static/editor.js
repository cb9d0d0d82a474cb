// Add/edit form for one server definition, with the provider preset picker and its guard
// rails. Passwords are write-only: the field stays empty and says "stored"; saving sends a
// password only when one was typed (or "" when "Remove the stored password" is ticked).
import { api } from "./api.js";
import { el, clear, announce } from "./dom.js";
import { errorNode } from "./errors.js";
import { inFormTerms } from "./terms.js";
import { state } from "./state.js";
import { loadServers, title } from "./servers.js";

let editing = null; // the definition being edited, or null for a new one
let returnFocus = null;
let warningsTimer = 0;
let warningsTicket = 0; // only the last request's findings are shown

const field = (id) => document.getElementById(id);

export async function initEditor() {
  if (!field("editor-form")) return; // removed for read-only keys
  state.openEditor = openEditor; // the server list's Edit buttons open it through `state`
  const { data } = await api.presets();
  state.presets = data;
  const select = field("f-preset");
  for (const preset of data) {
    select.append(el("option", { value: preset.name, text: `${preset.displayName} (${preset.name})` }));
  }
  select.addEventListener("change", () => applyPreset(select.value));
  field("f-region").addEventListener("change", applyRegion);
  field("f-port").addEventListener("change", applyPortSecurity);
  for (const id of ["f-host", "f-port", "f-security", "f-auth", "f-username", "f-from-email"]) {
    field(id).addEventListener("input", scheduleWarnings);
  }
  for (const id of ["f-tls-ca", "f-verify"]) field(id).addEventListener("input", showCertificate);
  field("f-password-clear").addEventListener("change", (event) => {
    field("f-password").disabled = event.target.checked;
  });
  field("editor-form").addEventListener("submit", save);
  field("f-cancel").addEventListener("click", close);
  field("editor").addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  field("add-server").addEventListener("click", (event) => openEditor(null, event.currentTarget));
}

function preset() {
  return state.presets.find((p) => p.name === field("f-preset").value) || null;
}

function presetForHost(host) {
  const wanted = (host || "").toLowerCase();
  return state.presets.find((p) => p.host === wanted || p.regions.some((r) => r.host === wanted)) || null;
}

export function openEditor(server, trigger) {
  editing = server;
  returnFocus = trigger;
  const form = field("editor-form");
  form.reset();
  field("f-password").disabled = false;
  clear(field("f-error"));
  field("editor-title").textContent = server ? `Edit server ${title(server)}` : "Add server";
  const values = server || { port: 587, security: "starttls", auth: true, priority: nextPriority(), timeout: 10, status: "active" };
  field("f-name").value = values.name || "";
  field("f-host").value = values.host || "";
  field("f-port").value = values.port;
  field("f-security").value = values.security;
  field("f-auth").checked = values.auth;
  field("f-username").value = values.username || "";
  field("f-from-email").value = values.fromEmail || "";
  field("f-from-name").value = values.fromName || "";
  field("f-priority").value = values.priority;
  field("f-timeout").value = values.timeout;
  field("f-status").value = values.status;
  field("f-default").checked = Boolean(values.isDefault);
  field("f-enqueue").checked = Boolean(values.enqueue);
  field("f-description").value = values.description || "";
  field("f-tls-ca").value = values.tlsCa || "";
  field("f-verify").checked = values.verifyCertificate !== false;
  showCertificate();
  const stored = Boolean(server && server.password);
  const password = field("f-password");
  password.value = "";
  password.placeholder = stored ? "stored" : "";
  field("f-password-help").textContent = stored
    ? "A password is stored (never shown). Leave this empty to keep it; type a new one to replace it. Changing host, port or username needs the password again."
    : "Write-only: it is stored encrypted and never shown again.";
  field("f-password-clear-label").hidden = !stored;
  const match = server ? presetForHost(server.host) : null;
  field("f-preset").value = match ? match.name : "";
  showPresetHelp(match, { fill: false });
  field("editor").hidden = false;
  field("editor-title").focus();
  scheduleWarnings();
}

// The certificate settings stay folded under one line that says what they are.
function showCertificate() {
  const ca = field("f-tls-ca").value.trim() ? "a private CA" : "a public CA";
  const checked = field("f-verify").checked ? "checked" : "NOT checked";
  field("f-cert-summary").textContent = `Certificate: ${ca}, ${checked}`;
  if (!field("f-verify").checked || ca === "a private CA") field("f-cert-box").open = true;
}

function nextPriority() {
  const priorities = state.servers.map((s) => s.priority);
  return priorities.length ? Math.max(...priorities) + 1 : 0;
}

function close() {
  field("editor-form").reset();
  field("f-password").value = "";
  field("editor").hidden = true;
  editing = null;
  if (returnFocus && document.body.contains(returnFocus)) returnFocus.focus();
}

function applyPreset(name) {
  const chosen = state.presets.find((p) => p.name === name) || null;
  showPresetHelp(chosen, { fill: true });
  scheduleWarnings();
}

function showPresetHelp(chosen, { fill }) {
  const regionField = field("f-region-field");
  const regions = clear(field("f-region"));
  const ports = clear(field("f-port-list"));
  const help = clear(field("f-preset-help"));
  field("f-preset-help-box").hidden = !chosen;
  regionField.hidden = !chosen || chosen.regions.length === 0;
  if (!chosen) return;
  field("f-preset-help-summary").textContent = `About ${chosen.displayName}: login, ports`;
  for (const region of chosen.regions) {
    const label = `${region.name} — ${region.host}${region.deprecated ? " (legacy)" : ""}`;
    regions.append(el("option", { value: region.id, text: label }));
  }
  const current = chosen.regions.find((r) => r.host === field("f-host").value.toLowerCase());
  regions.value = current ? current.id : chosen.region || (chosen.regions[0] || {}).id || "";
  for (const port of chosen.ports) {
    ports.append(el("option", { value: String(port.port), label: `${port.port} (${port.security})` }));
  }
  if (fill) {
    field("f-host").value = chosen.host;
    field("f-port").value = chosen.port;
    field("f-security").value = chosen.security;
    field("f-auth").checked = true;
    if (chosen.username) field("f-username").value = chosen.username;
  }
  help.append(
    el("p", {}, el("strong", { text: chosen.displayName }), ": ", inFormTerms(chosen.description)),
    el("p", {}, el("strong", { text: "Username: " }), inFormTerms(chosen.usernameHelp)),
    el("p", {}, el("strong", { text: "Password: " }), inFormTerms(chosen.passwordHelp)),
    el("p", { text: `Ports: ${chosen.ports.map((p) => `${p.port} (${p.security})`).join(", ")}` }),
  );
}

function applyRegion() {
  const chosen = preset();
  const region = chosen && chosen.regions.find((r) => r.id === field("f-region").value);
  if (region) field("f-host").value = region.host;
  scheduleWarnings();
}

function applyPortSecurity() {
  const chosen = preset();
  const spec = chosen && chosen.ports.find((p) => p.port === Number(field("f-port").value));
  if (spec) field("f-security").value = spec.security;
  scheduleWarnings();
}

function scheduleWarnings() {
  window.clearTimeout(warningsTimer);
  warningsTimer = window.setTimeout(showWarnings, 250);
}

async function showWarnings() {
  const ticket = ++warningsTicket;
  const chosen = preset();
  const box = field("f-warnings-box");
  if (!chosen) {
    clear(field("f-warnings"));
    box.hidden = true;
    return;
  }
  const params = {
    host: field("f-host").value.trim(),
    security: field("f-security").value,
    auth: String(field("f-auth").checked),
    username: field("f-username").value.trim(),
    fromEmail: field("f-from-email").value.trim(),
  };
  const port = Number(field("f-port").value);
  if (port >= 1 && port <= 65535) params.port = String(port);
  try {
    const { data } = await api.presetWarnings(chosen.name, params);
    if (ticket !== warningsTicket) return;
    const list = clear(field("f-warnings"));
    for (const warning of data.warnings) {
      list.append(el("li", { class: `finding ${warning.severity}`, "data-code": warning.code }, el("strong", { text: `${warning.severity}: ` }), inFormTerms(warning.message)));
    }
    field("f-warnings-summary").textContent = summary(data.warnings);
    box.hidden = data.warnings.length === 0;
  } catch {
    if (ticket === warningsTicket) box.hidden = true;
  }
}

// One line while collapsed: "Guard rails: 1 error, 2 warnings".
function summary(findings) {
  const count = (severity) => findings.filter((f) => f.severity === severity).length;
  const parts = [["error", "errors"], ["warning", "warnings"], ["info", "notes"]]
    .map(([severity, plural]) => [count(severity), severity === "info" ? "note" : severity, plural])
    .filter(([n]) => n > 0)
    .map(([n, one, many]) => `${n} ${n === 1 ? one : many}`);
  return `Guard rails: ${parts.join(", ")}`;
}

function text(id) {
  const value = field(id).value.trim();
  return value === "" ? null : value;
}

function body() {
  const data = {
    name: text("f-name"),
    host: text("f-host"),
    port: Number(field("f-port").value),
    security: field("f-security").value,
    auth: field("f-auth").checked,
    username: text("f-username"),
    fromEmail: text("f-from-email"),
    fromName: text("f-from-name"),
    priority: Number(field("f-priority").value),
    timeout: Number(field("f-timeout").value),
    status: field("f-status").value,
    isDefault: field("f-default").checked,
    enqueue: field("f-enqueue").checked,
    description: text("f-description"),
    tlsCa: text("f-tls-ca"),
    verifyCertificate: field("f-verify").checked,
  };
  const password = field("f-password").value;
  if (editing && field("f-password-clear").checked) data.password = "";
  else if (password !== "") data.password = password;
  if (!editing) {
    for (const key of Object.keys(data)) if (data[key] === null) delete data[key];
  }
  return data;
}

async function save(event) {
  event.preventDefault();
  const errors = clear(field("f-error"));
  if (!field("f-host").value.trim()) {
    errors.append(el("p", { text: "Host is required." }));
    field("f-host").focus();
    return;
  }
  const saveButton = field("f-save");
  saveButton.disabled = true;
  try {
    const { data } = editing
      ? await api.updateServer(state.appId, editing.id, body())
      : await api.createServer(state.appId, body());
    field("f-password").value = "";
    const wasNew = !editing;
    close();
    await loadServers({ force: true });
    announce(`Saved ${title(data)}`);
    if (wasNew) document.getElementById(`edit-${data.id}`)?.focus();
  } catch (error) {
    errors.append(errorNode(error));
  } finally {
    saveButton.disabled = false;
  }
}
