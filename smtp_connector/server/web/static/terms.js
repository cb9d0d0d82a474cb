// The API's field names as this page's form labels. Hints and guard rails come from the API
// written with its field names in backticks (`security`, `fromEmail`); the page shows the
// label a person sees beside the field instead, and other backticked words as code.
import { el } from "./dom.js";

const LABELS = {
  host: "Host",
  port: "Port",
  security: "Security",
  auth: "Log in (SMTP AUTH)",
  username: "Username",
  password: "Password",
  fromEmail: "From address",
  fromName: "From name",
  timeout: "Timeout (seconds)",
  tlsCa: "CA certificate",
  verifyCertificate: "Verify certificate",
  region: "Region",
  testEmail: "Test address",
};
const SECURITY = { tls: "TLS from the first byte", starttls: "STARTTLS (required)", none: "None (plain text)" };

// `security` "tls" (or `security` to "tls") → Security “TLS from the first byte”; the
// switches by what a person does with the checkbox.
function formValues(text) {
  return text
    .replace(/`security`( to)? "(tls|starttls|none)"/g, (_, to, value) => `\`security\`${to || ""} “${SECURITY[value]}”`)
    .replace(/set `auth` to false/g, "untick `auth`")
    .replace(/set `verifyCertificate` to false/g, "untick `verifyCertificate`");
}

// Text → nodes: known field names as <strong>label</strong>, other backticked words as <code>.
export function inFormTerms(text) {
  const parts = formValues(text || "").split("`");
  return parts.map((part, index) => {
    if (index % 2 === 0) return part;
    return LABELS[part] ? el("strong", { class: "field-name", text: LABELS[part] }) : el("code", { text: part });
  });
}
