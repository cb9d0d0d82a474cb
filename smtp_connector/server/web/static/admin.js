// The admin page's entry point: sign in, the app picker, and the refresh loop that keeps the
// servers and the queue current. Read-only keys get the page without its edit controls: every
// element marked `data-write` is removed, not merely hidden.
import { api, storedKey, storeKey, forgetKey, onKeyRejected } from "./api.js";
import { el, clear, announce } from "./dom.js";
import { errorNode } from "./errors.js";
import { state, refresh } from "./state.js";
import { loadServers } from "./servers.js";
import { initEditor } from "./editor.js";
import { initPreview, show as showPreview } from "./preview.js";
import { initQueue, loadQueue } from "./queue.js";
import { initTemplates, loadTemplates } from "./template-grid.js";
import { initTemplateEditor } from "./template-editor.js";

const APP_KEY = "smtp-connector.app";
const REASON_KEY = "smtp-connector.signed-out";
const field = (id) => document.getElementById(id);

function signOut(reason) {
  forgetKey();
  sessionStorage.removeItem(APP_KEY);
  if (reason) sessionStorage.setItem(REASON_KEY, reason);
  window.location.replace(window.location.pathname + window.location.search);
}

async function signIn(event) {
  event.preventDefault();
  const input = field("api-key");
  const key = input.value.trim();
  input.value = ""; // the key never stays in the page
  const error = clear(field("signin-error"));
  if (!key) return;
  try {
    await api.me(key);
  } catch (failure) {
    error.textContent = failure.status === 401 || failure.status === 403
      ? "This key was refused (unknown, revoked, or without the smtpserver_read scope)."
      : `Sign-in failed: ${failure.message}`;
    input.focus();
    return;
  }
  storeKey(key);
  try {
    await start();
  } catch (failure) {
    forgetKey();
    field("signin-form").hidden = false;
    field("signin-status").textContent = "";
    error.textContent = `Could not load the page: ${failure.message}`;
  }
}

// Everything is loaded before the workspace appears, so nothing moves (or steals focus) under
// a keyboard user who starts tabbing at once.
async function start() {
  field("signin-form").hidden = true;
  field("signin-status").textContent = "Loading…";
  const { data: me } = await api.me();
  state.me = me;
  if (me.readOnly) document.querySelectorAll("[data-write]").forEach((node) => node.remove());
  if (me.appId) field("app-create")?.remove(); // a key limited to one app cannot make another
  field("who").textContent = me.name;
  const mode = field("mode");
  mode.textContent = me.readOnly ? "read-only" : "read & write";
  mode.className = `badge ${me.readOnly ? "muted-badge" : "ok"}`;
  state.refreshHandlers.push(loadApps, loadServers, loadQueue, loadTemplates);
  await loadApps();
  await initEditor();
  initQueue();
  initTemplates();
  initTemplateEditor();
  await Promise.all([loadServers({ force: true }), initPreview(), loadQueue(), loadTemplates()]);
  field("signin").remove();
  field("session").hidden = false;
  field("workspace").hidden = false;
  field("main").focus({ preventScroll: true });
  announce(`Signed in as ${me.name}${me.readOnly ? " (read-only)" : ""}`);
  startTimer();
}

async function loadApps() {
  const { data } = await api.apps();
  const changed = JSON.stringify(data) !== JSON.stringify(state.apps);
  state.apps = data;
  const remembered = sessionStorage.getItem(APP_KEY);
  if (!data.some((app) => app.id === state.appId)) {
    state.appId = data.some((app) => app.id === remembered) ? remembered : (data[0] || {}).id || null;
  }
  field("no-apps").hidden = data.length > 0;
  field("app-picker").hidden = data.length === 0;
  if (data.length === 0 && field("app-create")) field("app-create").open = true;
  if (changed) {
    const select = clear(field("app-select"));
    for (const app of data) select.append(el("option", { value: app.id, text: app.name }));
    select.value = state.appId || "";
  }
  showApp();
}

function showApp() {
  const app = state.apps.find((a) => a.id === state.appId);
  field("app-test-view").textContent = app
    ? `Check sends its test message to ${app.testEmail || "— no test address set"}.`
    : "";
  const input = field("app-test-email");
  if (input && document.activeElement !== input) input.value = (app && app.testEmail) || "";
  const testForm = field("app-test-form");
  if (testForm) testForm.hidden = !app;
  const add = field("add-server");
  if (add) add.hidden = !app; // a server belongs to an app: make one first
}

async function chooseApp() {
  state.appId = field("app-select").value;
  sessionStorage.setItem(APP_KEY, state.appId);
  showApp();
  await loadServers({ force: true });
  document.getElementById("t-editor").hidden = true; // another app's template
  await Promise.all([showPreview(), loadQueue(), loadTemplates({ force: true })]);
}

async function saveTestEmail(event) {
  event.preventDefault();
  const out = clear(field("app-error"));
  try {
    await api.updateApp(state.appId, { testEmail: field("app-test-email").value.trim() || null });
    await loadApps();
    announce("Test address saved");
  } catch (error) {
    out.append(errorNode(error, { withHint: false }));
  }
}

async function createApp(event) {
  event.preventDefault();
  const out = clear(field("app-error"));
  const body = { name: field("new-app-name").value.trim() };
  const email = field("new-app-email").value.trim();
  if (email) body.testEmail = email;
  try {
    const { data } = await api.createApp(body);
    field("app-create-form").reset();
    field("app-create").open = false;
    state.appId = data.id;
    sessionStorage.setItem(APP_KEY, data.id);
    await loadApps();
    await loadServers({ force: true });
    announce(`App ${data.name} created`);
    // Unless the user has moved on while the lists reloaded (opened the server editor, say):
    // the closed form took the focus with it, so it is on the page's body, or still in the form.
    const focused = document.activeElement;
    if (!focused || focused === document.body || field("app-create").contains(focused)) {
      field("app-select").focus();
    }
  } catch (error) {
    out.append(errorNode(error, { withHint: false }));
  }
}

let timer = 0;
function startTimer() {
  const seconds = Number(document.body.dataset.refreshSeconds) || 10;
  window.clearInterval(timer);
  timer = window.setInterval(async () => {
    if (!field("auto-refresh").checked || document.hidden) return;
    try {
      await refresh();
    } catch {
      /* a failed background refresh is retried on the next tick */
    }
  }, seconds * 1000);
}

function init() {
  onKeyRejected(() => signOut("Your API key was refused (revoked or unknown); sign in again."));
  field("signin-form").addEventListener("submit", signIn);
  field("sign-out").addEventListener("click", () => signOut());
  field("refresh").addEventListener("click", async () => {
    await refresh();
    announce("Refreshed");
  });
  field("app-select").addEventListener("change", chooseApp);
  field("app-test-form")?.addEventListener("submit", saveTestEmail);
  field("app-create-form")?.addEventListener("submit", createApp);
  const reason = sessionStorage.getItem(REASON_KEY);
  if (reason) {
    sessionStorage.removeItem(REASON_KEY);
    field("signin-error").textContent = reason;
  }
  if (storedKey()) {
    start().catch((error) => {
      forgetKey();
      field("signin-form").hidden = false;
      field("signin-status").textContent = "";
      field("signin-error").textContent = `Could not load the page: ${error.message}`;
    });
  } else {
    field("api-key").focus();
  }
}

init();
