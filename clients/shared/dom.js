// shared/dom.js — owns the tiny DOM helpers both clients build their UI with. Text is
// always inserted as text nodes (never parsed as HTML): every customer- or
// agent-provided string goes through here or through textContent. Links built from
// outside data (join URLs, attachment URLs) go through safeLink: http(s) only.

/**
 * h('div', { class: 'x', dataset: { testid: 'y' }, onclick: fn, 'aria-label': '…' }, child…)
 * Children may be nodes, strings/numbers (become text nodes), arrays, null/false (skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'text') el.textContent = value;
      else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (key in el && typeof value !== 'string') el[key] = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces every child of el with the given children. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Keyed reconciliation: makes container's children exactly `items` (in order), reusing
 * the node cached under each item's key so scroll position and selections survive.
 * items: [{ key, render: () => Node, update?: (node) => void }]
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
  const kept = new Set(cache.values());
  for (const child of [...container.childNodes]) {
    if (!kept.has(child)) child.remove();
  }
}

/**
 * Whether a server- or customer-supplied URL may become a link: only absolute http(s)
 * URLs (never javascript:, data: or relative ones). Anything else is shown as text.
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

/** An <a> opening url in a new tab without giving it this page, or a text span. */
export function safeLink(url, text, props = {}) {
  if (!isHttpUrl(url)) return h('span', { class: props.class, dataset: props.dataset }, text ?? String(url ?? ''));
  return h('a', { ...props, href: url, target: '_blank', rel: 'noopener noreferrer' }, text ?? url);
}
