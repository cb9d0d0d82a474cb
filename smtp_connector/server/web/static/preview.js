// Template preview: usage type + locale + sample code -> subject, the HTML part in a sandboxed
// iframe (srcdoc, no scripts, opaque origin) and the text part.
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
  const app = currentApp();
  if (app) params.appName = app.name;
  try {
    const { data } = await api.preview(params);
    if (ticket !== latest) return;
    field("p-subject").textContent = data.subject;
    field("p-locale-used").textContent = data.locale || "default";
    field("p-html").srcdoc = data.html || "<p>(no HTML part)</p>";
    field("p-text").textContent = data.text || "(no text part)";
    field("p-result").hidden = false;
    announce(`Preview: ${data.subject}`);
  } catch (error) {
    if (ticket === latest) errors.append(errorNode(error));
  }
}
