// The connector's error codes in words, with what to try next. The codes are the library's
// stable ErrorCode values; the API adds HTTP-level ones (forbidden, not_found, ...).
import { el, ago } from "./dom.js";

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

const HINTS = {
  connection_failed:
    "Check host and port, and that this machine may open outbound SMTP connections (port 25 is blocked on most clouds).",
  tls_failed: "Match Security to the port: 465 is TLS from the first byte, 587 and 25 use STARTTLS.",
  auth_failed: "Check username and password; many providers want an app password or an API key.",
  sender_rejected: "Use a From address the provider has verified for this account.",
  recipient_rejected: "Check the test address; the server refused it.",
  message_rejected: "The server refused the content; its reply above says why.",
  timeout: "Check host, port and firewalls; raise Timeout for a slow server.",
  rate_limited: "Wait and retry; the provider limits how fast you may send.",
  invalid_config: "Correct the settings named in the message.",
  invalid_recipient: "Type a full email address.",
};

export function words(code) {
  return WORDS[code] || code || "Error";
}

export function hint(code) {
  return HINTS[code] || "";
}

// `error` has {code, message, smtpCode?, server?, at?}: one paragraph in words plus the hint.
export function errorNode(error, { withHint = true } = {}) {
  const facts = [error.code];
  if (error.smtpCode) facts.push(`SMTP ${error.smtpCode}`);
  if (error.server) facts.push(error.server);
  const node = el(
    "div",
    { class: "error-detail" },
    el("p", {}, el("strong", { text: words(error.code) }), ` (${facts.join(", ")})`, error.at ? ` · ${ago(error.at)}` : ""),
    el("p", { class: "message", text: error.message || "" }),
  );
  const tip = withHint ? hint(error.code) : "";
  if (tip) node.append(el("p", { class: "hint" }, el("strong", { text: "Hint: " }), tip));
  return node;
}
