// Small DOM helpers: elements are built with text nodes only, never from HTML strings, so no
// value from the API can inject markup.

/**
 * h("a", { href: "#", class: "x", onclick: fn }, "text", child)
 * @param {string} tag @param {Record<string, any> | null} [attrs] @param {...any} children
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** @param {Element} parent @param {any[]} children */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** @param {Element} element @param {...any} children */
export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export const money = (/** @type {number | null | undefined} */ usd) =>
  usd === null || usd === undefined ? "–" : `$${Number(usd).toFixed(usd !== 0 && Math.abs(usd) < 0.01 ? 4 : 2)}`;
export const percent = (/** @type {number | null | undefined} */ rate) =>
  rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)}%`;
export const count = (/** @type {number | null | undefined} */ n) =>
  n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
export function seconds(/** @type {number | null | undefined} */ s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
export function when(/** @type {string | null | undefined} */ iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toISOString().slice(0, 19).replace("T", " ");
}

/** A status as a coloured badge. @param {string} status */
export const badge = (status) => h("span", { class: `badge ${status}` }, status.replace("_", " "));

/** Calls `fn` at most once per animation frame, with every value queued since the last call. */
export function batched(/** @type {(items: any[]) => void} */ fn) {
  /** @type {any[]} */
  let queue = [];
  let scheduled = false;
  return (/** @type {any} */ item) => {
    queue.push(item);
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const items = queue;
      queue = [];
      fn(items);
    });
  };
}

/** A problem's message for the page. @param {any} error */
export function problemText(error) {
  return error?.problem?.detail ?? error?.message ?? String(error);
}
