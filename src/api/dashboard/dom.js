// Building the page from data without ever parsing markup: every string from the API (names,
// log lines, errors, file text) becomes a text node or an attribute value, never HTML. The
// page's Content-Security-Policy also requires Trusted Types, so a markup sink would throw.

import { can } from './session.js';

/** What an empty or unknown value shows as. */
export const DASH = '—';

/**
 * An element: `h('button', { class: 'primary', onclick: f }, 'Start')`. Props: `class`,
 * `text`, `dataset`, `on<event>` (a listener), `needs` (the role an action needs: hidden when
 * the token's role does not have it), booleans (present or absent), other attributes as text.
 * Children: nodes, strings (as text), arrays, and null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'text') element.textContent = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'needs') element.dataset.needs = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  appendAll(element, children);
  return element;
}

function appendAll(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children with text and nodes. */
export function fill(element, ...children) {
  element.replaceChildren();
  appendAll(element, children);
  return element;
}

/**
 * The read-only seam: every element built with `needs: 'operate' | 'admin'` is hidden when the
 * token's role (GET /whoami, see session.js) does not cover it. Without a known role
 * everything shows and the API's answers decide (a 403 says which role is needed).
 */
export function applyRole(root) {
  const elements = [...root.querySelectorAll('[data-needs]')];
  if (root.dataset?.needs) elements.push(root);
  for (const element of elements) {
    element.hidden = !can(element.dataset.needs);
  }
  return root;
}

/** `H:MM:SS`, as the API's `uptime`. */
export function formatUptime(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  return `${hours}:${String(minutes).padStart(2, '0')}:${String(rest).padStart(2, '0')}`;
}

/** `12.3 MiB`. */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** `3.2 %`. */
export function formatPercent(percent) {
  if (percent === null || percent === undefined || !Number.isFinite(percent)) return DASH;
  return `${percent.toFixed(percent < 10 ? 1 : 0)} %`;
}

/** A Unix time (seconds, maybe fractional) in the browser's local time. */
export function formatTime(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
  return new Date(seconds * 1000).toLocaleString();
}

/** `exit 1` or `signal KILL`, from a status's `last_exit`. */
export function formatExit(exit) {
  if (!exit || typeof exit !== 'object') return DASH;
  if ('code' in exit) return `exit ${exit.code}`;
  if ('signal' in exit) return `signal ${exit.signal}`;
  return DASH;
}

/** The last part of a path. */
export function basename(path) {
  return String(path ?? '').split('/').pop();
}

/**
 * One problem of a config error as a line: `web.toml:2:8: field boot: expected …`. The file
 * is shortened to its name (the full path is in the message).
 */
export function formatProblem(problem) {
  const where = [problem.file ? basename(problem.file) : null, problem.line, problem.column]
    .filter((part) => part !== null && part !== undefined)
    .join(':');
  const field = problem.field ? `field ${problem.field}: ` : '';
  return `${where ? `${where}: ` : ''}${field}${problem.message ?? ''}`;
}

/** The state badge: the state's name, coloured by its class (never by colour alone). */
export function stateBadge(state) {
  return h('span', { class: `state state-${String(state ?? 'UNKNOWN').toLowerCase()}` }, state ?? DASH);
}

/** Puts a badge's text and colour to a new state. */
export function setState(badge, state) {
  badge.className = `state state-${String(state ?? 'UNKNOWN').toLowerCase()}`;
  badge.textContent = state ?? DASH;
}

/** States in which a program has (or is getting) a process. */
export const UP = new Set(['STARTING', 'RUNNING', 'BACKOFF', 'STOPPING']);

/** A unified diff, a line a row, coloured by kind. */
export function diffView(diff) {
  const lines = String(diff ?? '').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return h(
    'pre',
    { class: 'diff' },
    lines.map((line) => {
      let kind = 'same';
      if (line.startsWith('+++') || line.startsWith('---')) kind = 'meta';
      else if (line.startsWith('@@')) kind = 'hunk';
      else if (line.startsWith('+')) kind = 'add';
      else if (line.startsWith('-')) kind = 'del';
      return h('span', { class: `diff-${kind}` }, line, '\n');
    }),
  );
}
