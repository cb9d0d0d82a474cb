// Template preview: usage type + locale + sample code -> subject, From, the HTML part in a
// sandboxed iframe (srcdoc, no scripts, opaque origin) and the text part, exactly as a send
// through the chosen app renders them.
import { api } from "./api.js";
import { el, clear, announce } from "./dom.js";
import { errorNode } from "./errors.js";
import { currentApp } from "./state.js";

const field = (id) => document.getElementById(id);
let latest = 0; // answers may arrive out of order: only the last request's answer is shown

export async function initPreview() {
  const { data } = await api.templateOptions();
  const usage = field("p-usage");
  const locale = field("p-locale");
  for (const name of data.usageTypes) usage.append(el("option", { value: name, text: name }));
  for (const name of data.locales) locale.append(el("option", { value: name, text: name }));
  usage.value = data.usageTypes.includes("SignIn") ? "SignIn" : data.usageTypes[0];
  locale.value = data.defaultLocale;
  field("preview-form").addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  usage.addEventListener("change", show);
  locale.addEventListener("change", show);
  await show();
}

export async function show() {
  const ticket = ++latest;
  const errors = clear(field("p-error"));
  const params = {
    usageType: field("p-usage").value,
    locale: field("p-locale").value,
    code: field("p-code").value.trim() || "123456",
  };
  try {
    const { data, note } = await render(params);
    if (ticket !== latest) return;
    field("p-subject").textContent = data.subject;
    field("p-locale-used").textContent = data.locale || "default";
    field("p-from").textContent = data.fromAddress || "—";
    field("p-note").textContent = note;
    field("p-html").srcdoc = data.html || "<p>(no HTML part)</p>";
    field("p-text").textContent = data.text || "(no text part)";
    field("p-result").hidden = false;
    announce(`Preview: ${data.subject}`);
  } catch (error) {
    if (ticket === latest) errors.append(errorNode(error));
  }
}

// Through the chosen app's own connector, as its sends render (its application name and
// sender); an app with no active server cannot send, so the shipped templates are shown
// with a note saying so.
async function render(params) {
  const app = currentApp();
  if (app) {
    const answer = await api.preview({ ...params, appId: app.id }, [409]);
    if (answer.status === 200) return { data: answer.data, note: "" };
  }
  const { data } = await api.preview(params);
  const note = app ? `${app.name} has no active server yet: this is the shipped template, without the app's sender.` : "";
  return { data, note };
}
