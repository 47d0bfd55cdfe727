// One program's page: its state and every status field the daemon gives, its actions, its
// config error (file, line, column), live logs of both streams, its file in an editor, and its
// history with diffs. State events refresh the status (GET /status/{name}); config events the
// file and the history.

import { call, segment } from './api.js';
import { act, actionButton, remove, runButtons, signal, SIGNALS } from './actions.js';
import { fileEditor } from './editor.js';
import { healthOf } from './list.js';
import { logPanel } from './logs.js';
import {
  applyRole,
  DASH,
  diffView,
  fill,
  formatBytes,
  formatExit,
  formatPercent,
  formatProblem,
  formatTime,
  formatUptime,
  h,
  setState,
  stateBadge,
  UP,
} from './dom.js';
import { can, NEEDS } from './session.js';

/** The status fields shown, in order: [label, how to show it]. Absent or null shows a dash. */
const FIELDS = [
  ['PID', (s) => s.pid ?? DASH],
  ['Uptime', (s) => (UP.has(s.status) ? (s.uptime ?? DASH) : DASH)],
  ['Started', (s) => formatTime(s.started_at)],
  ['Restarts', (s) => s.restarts ?? DASH],
  ['Last exit', (s) => formatExit(s.last_exit)],
  ['Last error', (s) => s.last_error ?? DASH],
  ['Enabled', (s) => (s.enabled === undefined ? DASH : s.enabled ? 'yes' : 'no')],
  ['Run intent', (s) => (s.run === undefined ? DASH : s.run ? 'on (should run)' : 'off')],
  ['Health', (s) => healthOf(s)],
  ['Status text', (s) => s.status_text || DASH],
  ['Last probe', (s) => (s.last_probe ? `${s.last_probe.ok ? 'ok' : 'failed'} at ${formatTime(s.last_probe.time)}${s.last_probe.output ? `: ${s.last_probe.output}` : ''}` : DASH)],
  ['CPU', (s) => formatPercent(s.cpu_percent)],
  ['CPU time', (s) => (Number.isFinite(s.cpu_seconds) ? `${s.cpu_seconds.toFixed(2)} s` : DASH)],
  ['Memory', (s) => formatBytes(s.memory_bytes)],
  ['Processes', (s) => s.processes ?? DASH],
  ['Generation', (s) => (s.generation === undefined ? DASH : `${s.generation} (running ${s.observed_generation ?? DASH})`)],
];

export function programView(ctx, name) {
  let disposed = false;
  let status = null;
  let uptimeBase = null;
  let ticks = 0;
  let refreshing = null;
  let logsStarted = false;

  const badge = stateBadge(null);
  const description = h('p', { class: 'description' });
  const command = h('p', { class: 'command' });
  const details = h('dl', { class: 'details' });
  const values = new Map();
  for (const [label] of FIELDS) {
    const value = h('dd', { dataset: { field: label.toLowerCase().replaceAll(' ', '-') } }, DASH);
    values.set(label, value);
    details.append(h('div', {}, h('dt', {}, label), value));
  }
  const configError = h('div', { class: 'config-error', role: 'alert', hidden: true });

  const run = runButtons(ctx, name);
  const enable = actionButton('Enable', NEEDS.enable, () => act(ctx, 'enable', name));
  const disable = actionButton('Disable', NEEDS.disable, () => act(ctx, 'disable', name));
  const which = h('select', { id: 'signal-select' }, SIGNALS.map((s) => h('option', { value: s }, s)));
  const removeButton = actionButton('Remove…', NEEDS.remove, async () => {
    if (await remove(ctx, name)) ctx.go('#/');
  }, { class: 'danger' });

  const logs = logPanel(ctx, `/programs/${segment(name)}/logs`, name);
  const editor = fileEditor(ctx, name);
  const history = h('div', { class: 'history' }, h('p', {}, 'Loading…'));
  const historyBox = h('details', { class: 'section', id: 'history' }, h('summary', {}, h('h2', {}, 'History')), history);
  historyBox.addEventListener('toggle', () => {
    if (historyBox.open) loadHistory();
  });

  const element = h(
    'section',
    { class: 'program', 'aria-labelledby': 'program-title' },
    h('p', { class: 'back' }, h('a', { href: '#/' }, '← All programs')),
    h('div', { class: 'program-head' }, h('h1', { id: 'program-title' }, name), badge),
    description,
    command,
    h(
      'div',
      { class: 'toolbar actions' },
      h('div', { class: 'buttons' }, run.buttons, enable, disable),
      h(
        'div',
        { class: 'buttons inline', needs: NEEDS.signal },
        h('label', { for: 'signal-select' }, 'Signal'),
        which,
        actionButton('Send', NEEDS.signal, () => signal(ctx, name, which.value), { 'aria-label': 'Send the signal' }),
      ),
      h('div', { class: 'buttons' }, removeButton),
    ),
    configError,
    details,
    h(
      'details',
      { class: 'section', id: 'logs', open: true },
      h('summary', {}, h('h2', {}, 'Logs')),
      can(NEEDS.logs) ? logs.element : h('p', { class: 'notice-inline' }, "Your token's role cannot read logs."),
    ),
    h(
      'details',
      { class: 'section', id: 'file', open: true },
      h('summary', {}, h('h2', {}, 'File')),
      editor.element,
    ),
    historyBox,
  );
  applyRole(element);

  function showStatus(next) {
    status = next;
    // A program that never had a valid file has no logs (the daemon answers 409): follow them
    // from the first good version on.
    if (can(NEEDS.logs) && !logsStarted && !disposed) {
      if (!next.config_error || next.config_error.running_generation > 0) {
        logsStarted = true;
        logs.start();
      } else {
        logs.say('No logs: this program has never had a valid file.');
      }
    }
    setState(badge, next.status);
    element.dataset.state = next.status;
    for (const [label, format] of FIELDS) values.get(label).textContent = String(format(next));
    uptimeBase = Number.isFinite(next.uptime_seconds) && UP.has(next.status)
      ? { seconds: next.uptime_seconds, at: performance.now() }
      : null;
    run.update(next);
    enable.hidden = !can(NEEDS.enable) || next.enabled !== false;
    disable.hidden = !can(NEEDS.disable) || next.enabled === false;
    const problems = next.config_error?.problems ?? [];
    configError.hidden = !next.config_error;
    if (next.config_error) {
      fill(
        configError,
        h('h2', {}, 'Config error'),
        h(
          'p',
          {},
          next.config_error.running_generation
            ? `The file does not validate; the last good version (generation ${next.config_error.running_generation}) stays in effect.`
            : 'The file does not validate; this program has no good version yet.',
        ),
        h(
          'ul',
          { class: 'problems' },
          problems.length
            ? problems.map((problem) =>
                h(
                  'li',
                  {},
                  h('code', {}, [problem.file, problem.line, problem.column].filter((part) => part !== null && part !== undefined).join(':')),
                  problem.field ? ` field ${problem.field}` : '',
                  `: ${problem.message}`,
                ),
              )
            : h('li', {}, next.config_error.message),
        ),
      );
    }
  }

  function showProgram(program) {
    description.textContent = program.description || '';
    description.hidden = !program.description;
    const argv = Array.isArray(program.command) ? program.command.join(' ') : program.command;
    fill(command, argv ? h('code', {}, argv) : '');
    if (program.status) showStatus(program.status);
  }

  async function loadProgram() {
    const program = await editor.load();
    if (!disposed && program) showProgram(program);
  }

  async function refreshStatus() {
    if (refreshing) {
      refreshing.again = true;
      return;
    }
    refreshing = { again: false };
    try {
      do {
        refreshing.again = false;
        const { data } = await call('GET', `/status/${segment(name)}`);
        if (!disposed && !refreshing.again && data?.status) showStatus(data.status);
      } while (refreshing.again && !disposed);
    } catch (error) {
      if (error.status === 404) {
        badge.textContent = 'REMOVED';
        ctx.notify(`${name} is gone (its file was removed)`, 'error');
      } else ctx.fail(error, `Read ${name}`);
    } finally {
      refreshing = null;
    }
  }

  async function loadHistory() {
    try {
      const { data } = await call('GET', `/programs/${segment(name)}/history`);
      if (disposed) return;
      const changes = [...(data?.history ?? [])].reverse();
      fill(
        history,
        changes.length === 0 ? h('p', {}, 'No change recorded yet.') : null,
        changes.map((change) =>
          h(
            'article',
            { class: 'change' },
            h(
              'h3',
              {},
              `Generation ${change.generation} · ${change.change} · from ${change.source}${change.by ? ` by ${change.by}` : ''} · ${formatTime(change.time)}`,
            ),
            change.problems?.length
              ? h('ul', { class: 'problems' }, change.problems.map((problem) => h('li', {}, typeof problem === 'string' ? problem : formatProblem(problem))))
              : null,
            change.diff ? diffView(change.diff) : h('p', {}, '(no text change)'),
          ),
        ),
      );
    } catch (error) {
      fill(history, h('p', { class: 'notice-inline error' }, error.message));
    }
  }

  loadProgram();

  return {
    element,
    title: name,
    onOpen() {
      refreshStatus();
    },
    onEvent(type, event) {
      if (event.name !== name) return;
      if (type === 'state' || type === 'health') {
        if (event.to) setState(badge, event.to);
        refreshStatus();
      } else if (type === 'config') {
        if (event.change === 'removed') {
          badge.textContent = 'REMOVED';
          ctx.notify(`${name}: its file was removed`, 'error');
          return;
        }
        refreshStatus();
        editor.onChange(event.generation).then(() => {
          if (historyBox.open) loadHistory();
        });
      }
    },
    tick() {
      if (uptimeBase) values.get('Uptime').textContent = formatUptime(uptimeBase.seconds + (performance.now() - uptimeBase.at) / 1000);
      ticks += 1;
      if (status && ('cpu_percent' in status || 'memory_bytes' in status) && ticks % 5 === 0) refreshStatus();
    },
    dispose() {
      disposed = true;
      logs.stop();
    },
  };
}
