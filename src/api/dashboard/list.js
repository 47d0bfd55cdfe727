// The list of programs, as supervisord's page has it: a row per program with its state in
// colour, pid, uptime, restarts, health, CPU, memory and what went wrong, and buttons per row
// and for all. Loaded once from GET /status; after that each event refreshes only the program
// it names (GET /status/{name}); a reconnection or a lagged stream re-reads the whole list.

import { call, segment } from './api.js';
import { actOnAll, act, actionButton, remove, runButtons, signal, SIGNALS } from './actions.js';
import {
  applyRole,
  DASH,
  fill,
  formatBytes,
  formatExit,
  formatPercent,
  formatProblem,
  formatUptime,
  h,
  setState,
  stateBadge,
  UP,
} from './dom.js';
import { can, NEEDS } from './session.js';

const COLUMNS = [
  ['state', 'State'],
  ['name', 'Program'],
  ['pid', 'PID'],
  ['uptime', 'Uptime'],
  ['restarts', 'Restarts'],
  ['health', 'Health'],
  ['cpu', 'CPU'],
  ['memory', 'Memory'],
  ['info', 'Info'],
  ['actions', 'Actions'],
];

/** Health and readiness (SPEC §12) when the status carries them, else a dash. */
export function healthOf(status) {
  const parts = [];
  if (typeof status.health === 'string') parts.push(status.health);
  // Readiness is news only for a program that runs (or is getting there).
  if (typeof status.ready === 'boolean' && UP.has(status.status)) parts.push(status.ready ? 'ready' : 'not ready');
  if (Array.isArray(status.waiting_for) && status.waiting_for.length) {
    parts.push(`waiting for ${status.waiting_for.join(', ')}`);
  }
  return parts.length ? parts.join(' · ') : DASH;
}

/** What went wrong, most urgent first: the file's error, the last error, the last exit. */
export function infoOf(status) {
  const problems = status.config_error?.problems;
  if (Array.isArray(problems) && problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    return { kind: 'config-error', text: `config error: ${formatProblem(problems[0])}${more}` };
  }
  if (status.config_error) return { kind: 'config-error', text: `config error: ${status.config_error.message}` };
  if (status.last_error) return { kind: 'error', text: status.last_error };
  if (!UP.has(status.status) && status.last_exit) return { kind: 'exit', text: formatExit(status.last_exit) };
  return { kind: 'none', text: '' };
}

/** A program's row: built once, then updated in place (a focused button keeps its focus). */
function makeRow(ctx, name) {
  const cells = {};
  const row = h('tr', { dataset: { name } });
  for (const [key, label] of COLUMNS) {
    cells[key] = h('td', { dataset: { field: key, label } });
    row.append(cells[key]);
  }
  const badge = stateBadge(null);
  const disabled = h('span', { class: 'tag', hidden: true }, 'disabled');
  fill(cells.state, badge, ' ', disabled);
  fill(cells.name, h('a', { href: `#/program/${segment(name)}`, class: 'name' }, name));

  const run = runButtons(ctx, name);
  const menuId = `menu-${name}`;
  const enable = actionButton('Enable', NEEDS.enable, () => act(ctx, 'enable', name));
  const disable = actionButton('Disable', NEEDS.disable, () => act(ctx, 'disable', name));
  const which = h('select', { 'aria-label': `Signal to send to ${name}` }, SIGNALS.map((s) => h('option', { value: s }, s)));
  const menu = h(
    'div',
    { popover: 'auto', id: menuId, class: 'menu', role: 'group', 'aria-label': `More actions for ${name}` },
    h('p', { class: 'menu-title' }, name),
    h('a', { href: `#/program/${segment(name)}` }, 'Open page (logs, file, history)'),
    enable,
    disable,
    h(
      'div',
      { class: 'inline', needs: NEEDS.signal },
      which,
      actionButton('Send signal', NEEDS.signal, () => signal(ctx, name, which.value)),
    ),
    actionButton('Remove…', NEEDS.remove, () => remove(ctx, name), { class: 'danger' }),
  );
  const more = h('button', { type: 'button', popovertarget: menuId, 'aria-label': `More actions for ${name}` }, 'More');
  fill(cells.actions, h('div', { class: 'buttons' }, run.buttons, more), menu);
  menu.addEventListener('click', (event) => {
    if (event.target.closest('button') || event.target.closest('a')) menu.hidePopover?.();
  });
  applyRole(row);
  return { row, cells, badge, disabled, run, enable, disable, status: null, uptimeBase: null };
}

function render(entry, status) {
  entry.status = status;
  const { cells } = entry;
  setState(entry.badge, status.status);
  // "disabled" only for a program that has a good version: one that never had is not disabled, it is broken.
  entry.disabled.hidden = status.enabled !== false || (status.config_error && !status.config_error.running_generation);
  entry.row.dataset.state = status.status;
  const processes = Number.isFinite(status.processes) && status.processes > 1 ? ` (${status.processes} processes)` : '';
  cells.pid.textContent = status.pid ? `${status.pid}${processes}` : DASH;
  cells.restarts.textContent = String(status.restarts ?? DASH);
  cells.health.textContent = healthOf(status);
  cells.health.className = typeof status.health === 'string' ? `health-${status.health}` : '';
  cells.cpu.textContent = formatPercent(status.cpu_percent);
  cells.memory.textContent = formatBytes(status.memory_bytes);
  const info = infoOf(status);
  cells.info.textContent = info.text;
  cells.info.className = `info info-${info.kind}`;
  cells.info.title = status.config_error?.message ?? info.text;
  entry.uptimeBase = Number.isFinite(status.uptime_seconds) && UP.has(status.status)
    ? { seconds: status.uptime_seconds, at: performance.now() }
    : null;
  tickUptime(entry);
  entry.run.update(status);
  // Enable or Disable, whichever applies (and neither for a role that cannot).
  entry.enable.hidden = !can(NEEDS.enable) || status.enabled !== false;
  entry.disable.hidden = !can(NEEDS.disable) || status.enabled === false;
}

function tickUptime(entry) {
  const base = entry.uptimeBase;
  entry.cells.uptime.textContent = base
    ? formatUptime(base.seconds + (performance.now() - base.at) / 1000)
    : (entry.status?.uptime ?? DASH);
}

export function listView(ctx) {
  const entries = new Map();
  const refreshing = new Map();
  const tbody = h('tbody');
  const summary = h('p', { class: 'summary', role: 'status' });
  const empty = h('p', { class: 'empty', hidden: true }, 'No programs. Put a TOML or YAML file in programs.d, or use the API.');
  let hasMetrics = false;
  let ticks = 0;
  let disposed = false;

  const statuses = () => [...entries.values()].map((entry) => entry.status).filter(Boolean);
  const bulk = (action, label) =>
    actionButton(label, NEEDS[action], () => actOnAll(ctx, action, statuses()), { dataset: { bulk: action } });

  const element = h(
    'section',
    { class: 'list', 'aria-labelledby': 'list-title' },
    h(
      'div',
      { class: 'toolbar' },
      h('h1', { id: 'list-title' }, 'Programs'),
      summary,
      h(
        'div',
        { class: 'buttons' },
        bulk('start', 'Start all'),
        bulk('stop', 'Stop all'),
        bulk('restart', 'Restart all'),
        actionButton('Refresh', null, () => load(), { dataset: { action: 'refresh' } }),
      ),
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'programs' },
        h('caption', { class: 'visually-hidden' }, 'Programs, their state and actions'),
        h('thead', {}, h('tr', {}, COLUMNS.map(([, label]) => h('th', { scope: 'col' }, label)))),
        tbody,
      ),
    ),
    empty,
  );
  applyRole(element);

  function summarize() {
    const counts = new Map();
    let broken = 0;
    for (const status of statuses()) {
      counts.set(status.status, (counts.get(status.status) ?? 0) + 1);
      if (status.config_error) broken += 1;
    }
    const total = entries.size;
    const parts = [...counts.entries()].sort().map(([state, count]) => `${count} ${state.toLowerCase()}`);
    summary.textContent = `${total} program${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}${broken ? ` · ${broken} with config errors` : ''}`;
    empty.hidden = total > 0;
  }

  /** Shows a status: updates its row, or adds a row in name order. */
  function show(status) {
    if ('cpu_percent' in status || 'memory_bytes' in status) hasMetrics = true;
    let entry = entries.get(status.name);
    if (!entry) {
      entry = makeRow(ctx, status.name);
      // In name order, as the daemon lists them (a full load comes sorted: each row goes last).
      const last = tbody.lastElementChild;
      const next = !last || last.dataset.name < status.name
        ? null
        : [...tbody.children].find((other) => other.dataset.name > status.name);
      tbody.insertBefore(entry.row, next ?? null);
      entries.set(status.name, entry);
    }
    render(entry, status);
  }

  function drop(name) {
    entries.get(name)?.row.remove();
    entries.delete(name);
  }

  async function load() {
    try {
      const { data } = await call('GET', '/status');
      if (disposed) return;
      const seen = new Set();
      for (const status of data?.statuses ?? []) {
        seen.add(status.name);
        show(status);
      }
      for (const name of [...entries.keys()]) if (!seen.has(name)) drop(name);
      summarize();
    } catch (error) {
      ctx.fail(error, 'Read the programs');
    }
  }

  /**
   * Re-reads one program's status. One request at a time per program: an event that comes
   * while one is on its way asks for another after it, and the older answer is not shown.
   */
  async function refresh(name) {
    const pending = refreshing.get(name);
    if (pending) {
      pending.again = true;
      return;
    }
    const mark = { again: false };
    refreshing.set(name, mark);
    try {
      for (;;) {
        mark.again = false;
        let status = null;
        try {
          status = (await call('GET', `/status/${segment(name)}`)).data?.status ?? null;
        } catch (error) {
          if (error.status !== 404) throw error;
        }
        if (disposed) return;
        if (mark.again) continue;
        if (status) show(status);
        else drop(name);
        summarize();
        return;
      }
    } catch (error) {
      ctx.fail(error, `Read ${name}`);
    } finally {
      refreshing.delete(name);
    }
  }

  load();
  return {
    element,
    title: 'Programs',
    onOpen: () => load(),
    onEvent(type, event) {
      if (type === 'lagged') {
        load();
      } else if (type === 'config' && event.change === 'removed') {
        drop(event.name);
        summarize();
      } else if (['config', 'state', 'health'].includes(type) && event.id !== null && event.id !== undefined) {
        // Show the new state at once; the status read brings pid, uptime and the rest.
        const entry = entries.get(event.name);
        if (type === 'state' && entry && event.to) setState(entry.badge, event.to);
        refresh(event.name);
      }
    },
    tick() {
      for (const entry of entries.values()) if (entry.uptimeBase) tickUptime(entry);
      // CPU and memory are read when asked (SPEC §14): while the page is visible, ask every 5 s.
      ticks += 1;
      if (hasMetrics && ticks % 5 === 0) load();
    },
    dispose() {
      disposed = true;
    },
  };
}
