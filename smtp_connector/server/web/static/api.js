// The JSON API client of the admin page. The API key lives in this tab's sessionStorage only
// (never a cookie, never in the DOM) and is sent as `Authorization: Bearer KEY`.

const STORAGE_KEY = "smtp-connector.api-key";

export function storedKey() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function storeKey(key) {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(STORAGE_KEY);
}

// An answer that is not 2xx: `status`, and the API's `{code, message, hint, cause, smtpCode, server}`.
export class ApiError extends Error {
  constructor(status, error, body) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.smtpCode = error.smtpCode ?? null;
    this.server = error.server ?? null;
    this.hint = error.hint ?? null;
    this.cause = error.cause ?? null;
    this.body = body;
  }
}

// The `cursor` of a list's next page, from its `Link: <URL>; rel="next"` header (null: last page).
function nextCursor(link) {
  const match = link && link.match(/<([^>]+)>;\s*rel="next"/);
  return match ? new URL(match[1], window.location.href).searchParams.get("cursor") : null;
}

// Listeners called when the key stops working (revoked, unknown): the page signs out.
const keyRejected = [];
export function onKeyRejected(listener) {
  keyRejected.push(listener);
}

export async function request(method, path, { body, key, allow = [] } = {}) {
  const headers = { Accept: "application/json" };
  const token = key ?? storedKey();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.ok || allow.includes(response.status)) {
    return { status: response.status, data, next: nextCursor(response.headers.get("Link")) };
  }
  const error = new ApiError(response.status, (data && data.error) || {}, data);
  if (key === undefined && (response.status === 401 || (response.status === 403 && error.message.startsWith("Unknown or revoked")))) {
    keyRejected.forEach((listener) => listener(error));
  }
  throw error;
}

function tpl(app, usage, locale) {
  const base = `/v1/apps/${encodeURIComponent(app)}/templates`;
  return usage ? `${base}/${encodeURIComponent(usage)}/${encodeURIComponent(locale)}` : base;
}

export const api = {
  me: (key) => request("GET", "/v1/me", { key }),
  // Lists are paged (`limit` up to 500, the next page in a `Link` header): the page asks for
  // the most; an app holds at most SMTP_CONNECTOR_MAX_DEFINITIONS_PER_APP servers (50).
  apps: () => request("GET", "/v1/apps?limit=500"),
  createApp: (body) => request("POST", "/v1/apps", { body }),
  updateApp: (id, body) => request("PATCH", `/v1/apps/${encodeURIComponent(id)}`, { body }),
  servers: (app) => request("GET", `/v1/apps/${encodeURIComponent(app)}/servers?limit=500`),
  createServer: (app, body) => request("POST", `/v1/apps/${encodeURIComponent(app)}/servers`, { body }),
  updateServer: (app, id, body) =>
    request("PATCH", `/v1/apps/${encodeURIComponent(app)}/servers/${encodeURIComponent(id)}`, { body }),
  deleteServer: (app, id) =>
    request("DELETE", `/v1/apps/${encodeURIComponent(app)}/servers/${encodeURIComponent(id)}`),
  check: (app, id) =>
    request("POST", `/v1/apps/${encodeURIComponent(app)}/servers/${encodeURIComponent(id)}/check`, { allow: [406] }),
  testEmail: (app, id, to) =>
    request("POST", `/v1/apps/${encodeURIComponent(app)}/servers/${encodeURIComponent(id)}/test`, { body: { to } }),
  presets: () => request("GET", "/v1/presets"),
  presetWarnings: (name, params) =>
    request("GET", `/v1/presets/${encodeURIComponent(name)}/warnings?${new URLSearchParams(params)}`),
  templateOptions: () => request("GET", "/v1/templates"),
  preview: (params, allow = []) =>
    request("GET", `/v1/templates/preview?${new URLSearchParams(params)}`, { allow }),
  // Counts of one app's messages (the whole service's when `app` is null).
  queue: (app) => request("GET", app ? `/v1/queue?appId=${encodeURIComponent(app)}` : "/v1/queue", { allow: [404, 405] }),
  // One page of the app's queued messages, newest first; `next` in the answer is the cursor.
  recentMessages: (app, params) =>
    request("GET", `/v1/apps/${encodeURIComponent(app)}/messages?${new URLSearchParams(params)}`, { allow: [404] }),
  message: (id) => request("GET", `/v1/messages/${encodeURIComponent(id)}`),
  // The app's own templates (`/v1/apps/{id}/templates`): where each (usage type, language)
  // comes from, one template, save, delete, history, revert, and the preview of an edit.
  templateLevels: (app, params) => request("GET", `${tpl(app)}/levels?${params}`),
  template: (app, usage, locale) => request("GET", `${tpl(app, usage, locale)}`, { allow: [404] }),
  saveTemplate: (app, usage, locale, body) => request("PUT", tpl(app, usage, locale), { body }),
  deleteTemplate: (app, usage, locale) => request("DELETE", tpl(app, usage, locale)),
  templateHistory: (app, usage, locale) => request("GET", `${tpl(app, usage, locale)}/history`, { allow: [404] }),
  revertTemplate: (app, usage, locale, version) =>
    request("POST", `${tpl(app, usage, locale)}/revert`, { body: { version } }),
  previewTemplate: (app, body) => request("POST", `${tpl(app)}/preview`, { body }),
  testTemplate: (app, body) => request("POST", `${tpl(app)}/test`, { body }),
};
