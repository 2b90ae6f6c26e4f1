// shared/dom.js — owns the tiny DOM helpers the clients build their UI with: h() and
// friends, byId for the page's own elements, sendOnEnter for message boxes. Text is
// always inserted as text nodes (never parsed as HTML): every customer- or
// agent-provided string goes through here or through textContent. Links built from
// outside data (join URLs, attachment URLs) go through safeLink: http(s) only.

/**
 * What h() and replaceChildren() take as children: nodes, strings and numbers (text
 * nodes), arrays of children; null, undefined and false are skipped.
 * @typedef {Node | string | number | boolean | null | undefined | ChildList} Child
 * @typedef {Child[]} ChildList
 */

/**
 * h()'s properties: `class`, `dataset`, `text` (textContent), `on…` listeners, DOM
 * properties (non-string values, e.g. `disabled: true`) and attributes (strings).
 * @typedef {{ class?: string, dataset?: Record<string, string | undefined>, text?: string, [key: string]: unknown }} Props
 */

/**
 * h('div', { class: 'x', dataset: { testid: 'y' }, onclick: fn, 'aria-label': '…' }, child…)
 * Children may be nodes, strings/numbers (become text nodes), arrays, null/false (skipped).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props | null} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = String(value);
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'text') el.textContent = String(value);
      else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
      else if (key in el && typeof value !== 'string') /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[key] = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {ChildList} children
 */
function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/**
 * Replaces every child of el with the given children.
 * @template {Element} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Keyed reconciliation: makes container's children exactly `items` (in order), reusing
 * the node cached under each item's key so scroll position and selections survive.
 * items: [{ key, render: () => Node, update?: (node) => void }]
 * @template {Element} E
 * @param {Element} container
 * @param {{ key: string, render: () => E, update?: ((node: E) => void) | null }[]} items
 * @param {Map<string, E>} cache
 */
export function reconcile(container, items, cache) {
  const wanted = new Set();
  let ref = container.firstChild;
  for (const item of items) {
    wanted.add(item.key);
    let node = cache.get(item.key);
    if (!node) {
      node = item.render();
      cache.set(item.key, node);
    } else if (item.update) {
      item.update(node);
    }
    if (node !== ref) container.insertBefore(node, ref);
    else ref = ref.nextSibling;
  }
  for (const [key, node] of cache) {
    if (!wanted.has(key)) {
      node.remove();
      cache.delete(key);
    }
  }
  // Anything else left over (not from the cache) goes too.
  /** @type {Set<Node>} */
  const kept = new Set(cache.values());
  for (const child of [...container.childNodes]) {
    if (!kept.has(child)) child.remove();
  }
}

/**
 * Whether a server- or customer-supplied URL may become a link: only absolute http(s)
 * URLs (never javascript:, data: or relative ones). Anything else is shown as text.
 * @param {unknown} url
 * @returns {url is string}
 */
export function isHttpUrl(url) {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return false;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * An <a> opening url in a new tab without giving it this page, or a text span.
 * @param {unknown} url
 * @param {string | null} [text] the link's text (default: the URL)
 * @param {{ class?: string, dataset?: Record<string, string> }} [props]
 */
export function safeLink(url, text, props = {}) {
  if (!isHttpUrl(url)) return h('span', { class: props.class, dataset: props.dataset }, text ?? String(url ?? ''));
  return h('a', { ...props, href: url, target: '_blank', rel: 'noopener noreferrer' }, text ?? url);
}

/**
 * The page's element with this id, as `kind` (`byId('x', HTMLInputElement)`) or any
 * HTMLElement. The pages and the scripts ship together, so a missing element, or one of
 * another kind, is a bug: it throws naming the id rather than hand back null.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {{ new (): T }} [kind]
 * @returns {T}
 */
export function byId(id, kind) {
  const el = document.getElementById(id);
  if (!(el instanceof (kind || HTMLElement))) throw new Error(`#${id}: ${el ? `not a ${kind ? kind.name : 'HTMLElement'}` : 'no such element'}`);
  return /** @type {T} */ (el);
}

/**
 * A message box's keys: Enter calls `send`, Shift+Enter is a newline, and an Enter that
 * confirms an IME conversion (Japanese input) does neither.
 * @param {HTMLTextAreaElement} input
 * @param {() => void} send
 */
export function sendOnEnter(input, send) {
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      send();
    }
  });
}
