// Small DOM helpers. Every string from the API goes in through textContent, never innerHTML:
// SMTP replies and definition fields are data typed by others, not markup.

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// host:port (or any dotted name) that may break only between its labels: after a dot or a
// hyphen, before the port, never inside a label ("exam-" / "ple.org").
export function address(text) {
  const parts = String(text).split(/(?<=[.])|(?=:)/);
  return el("span", { class: "address" }, parts.flatMap((part, i) => (i ? [el("wbr"), part] : [part])));
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// A polite message for screen readers (and a visible trace for tests that read it).
export function announce(text) {
  const live = $("#announce");
  live.textContent = "";
  window.setTimeout(() => {
    live.textContent = text;
  }, 30);
}

// Re-render without losing the keyboard user's place: restore focus to the element with the
// same id after `render()` replaced it, if it still exists.
export function keepingFocus(render) {
  const id = document.activeElement && document.activeElement.id;
  render();
  if (id && document.activeElement && document.activeElement.id !== id) {
    const again = document.getElementById(id);
    if (again) again.focus();
  }
}

export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}
