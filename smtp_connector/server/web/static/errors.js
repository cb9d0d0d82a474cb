// The connector's error codes in words, and the hint for what to try next. The hint is the
// API's own (`hint`, chosen by the error's `cause`: an untrusted certificate and a port/TLS
// mismatch are both `tls_failed` and need different advice), shown in the form's terms.
// Only an error without a cause (an old record, an HTTP-level refusal) falls back to advice
// by code.
import { el, ago, address } from "./dom.js";
import { inFormTerms } from "./terms.js";

const WORDS = {
  connection_failed: "Could not connect",
  tls_failed: "TLS failed",
  auth_failed: "Login refused",
  sender_rejected: "Sender address refused",
  recipient_rejected: "Recipient refused",
  message_rejected: "Message refused",
  timeout: "No answer in time",
  rate_limited: "Rate limited",
  all_servers_failed: "Every server failed",
  invalid_config: "Settings not valid",
  invalid_recipient: "Not a valid address",
  invalid_request: "Request not valid",
  signing_failed: "Signing failed",
  template_not_found: "No template",
  template_error: "Template error",
  forbidden: "Not allowed",
  not_found: "Not found",
  conflict: "Conflict",
  unavailable: "Service unavailable",
};

const BY_CODE = {
  connection_failed: "Check Host and Port, and that this machine may open outbound SMTP connections (port 25 is blocked on most clouds).",
  timeout: "Check Host, Port and firewalls; raise Timeout for a slow server.",
  rate_limited: "Wait and retry; the provider limits how fast you may send.",
  invalid_config: "Correct the settings named in the message.",
  invalid_recipient: "Type a full email address.",
};

export function words(code) {
  return WORDS[code] || code || "Error";
}

export function hint(error) {
  if (error.hint) return error.hint;
  return error.cause ? "" : BY_CODE[error.code] || "";
}

// `error` has {code, cause?, message, hint?, smtpCode?, server?, at?}: what happened in words,
// the message, and the hint (once: the message no longer repeats it).
export function errorNode(error, { withHint = true } = {}) {
  const facts = [error.code];
  if (error.smtpCode) facts.push(`SMTP ${error.smtpCode}`);
  const server = error.server ? [", ", address(error.server)] : [];
  const node = el(
    "div",
    { class: "error-detail", "data-cause": error.cause || null },
    el("p", {}, el("strong", { text: words(error.code) }), ` (${facts.join(", ")}`, server, ")", error.at ? ` · ${ago(error.at)}` : ""),
    el("p", { class: "message" }, inFormTerms(error.message || "")),
  );
  const tip = withHint ? hint(error) : "";
  if (tip) node.append(el("p", { class: "hint" }, el("strong", { text: "Hint: " }), inFormTerms(tip)));
  return node;
}
