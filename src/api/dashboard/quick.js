// The quick-start runner: a one-off command (POST /quick-start, never written to programs.d),
// then its status and its output live, and the runs the daemon still keeps.

import { call, segment } from './api.js';
import { actionButton } from './actions.js';
import { logPanel } from './logs.js';
import { applyRole, DASH, fill, formatExit, formatTime, h, setState, stateBadge, UP } from './dom.js';
import { can, NEEDS } from './session.js';

/** `KEY=VALUE` lines (blank lines and `#` comments skipped) as an object; throws on a bad line. */
export function parseEnvironment(text) {
  const environment = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const equals = line.indexOf('=');
    if (equals <= 0) throw new Error(`environment, line ${index + 1}: write KEY=VALUE`);
    environment[line.slice(0, equals).trim()] = line.slice(equals + 1);
  });
  return environment;
}

function field(label, input, hint) {
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
}

export function quickView(ctx, id) {
  let disposed = false;
  const recent = h('tbody');
  const problem = h('p', { class: 'notice-inline error', role: 'alert', hidden: true });

  const command = h('input', { id: 'quick-command', type: 'text', required: true, spellcheck: 'false', autocomplete: 'off', placeholder: "sh -c 'echo hello; sleep 5'" });
  const directory = h('input', { id: 'quick-directory', type: 'text', spellcheck: 'false', placeholder: '/tmp' });
  const user = h('input', { id: 'quick-user', type: 'text', spellcheck: 'false', autocomplete: 'off' });
  const timeout = h('input', { id: 'quick-timeout', type: 'number', min: '0', step: 'any', inputmode: 'decimal' });
  const environment = h('textarea', { id: 'quick-environment', rows: '3', spellcheck: 'false', placeholder: 'NAME=value' });
  const runButton = h('button', { type: 'submit', class: 'primary' }, 'Run');
  const form = h(
    'form',
    { class: 'quick-form', needs: NEEDS.quickStart, 'aria-labelledby': 'quick-title' },
    field('Command', command, 'Split into words like a shell would, without a shell: write sh -c \'…\' for pipes and $VARS.'),
    h(
      'div',
      { class: 'field-row' },
      field('Directory', directory),
      field('User', user),
      field('Timeout (seconds)', timeout),
    ),
    field('Environment', environment, 'One KEY=value a line.'),
    h('div', { class: 'buttons' }, runButton),
    problem,
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const body = { command: command.value };
    try {
      if (directory.value.trim()) body.directory = directory.value.trim();
      if (user.value.trim()) body.user = user.value.trim();
      if (timeout.value !== '') body.timeout_seconds = Number(timeout.value);
      const env = parseEnvironment(environment.value);
      if (Object.keys(env).length) body.environment = env;
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
      return;
    }
    runButton.disabled = true;
    try {
      const { data } = await call('POST', '/quick-start', { body });
      ctx.go(`#/quick/${segment(data.id)}`);
    } catch (error) {
      const details = Array.isArray(error.details)
        ? error.details.map((detail) => `${detail.field ? `${detail.field}: ` : ''}${detail.message ?? ''}`).join('; ')
        : '';
      problem.textContent = `Not started: ${error.message}${details && !error.message.includes(details) ? ` (${details})` : ''}`;
      problem.hidden = false;
      if (error.status !== 400) ctx.fail(error, 'Quick start');
    } finally {
      runButton.disabled = false;
    }
  });

  let run = null;
  if (id !== null) run = runPanel(ctx, id);

  const element = h(
    'section',
    { class: 'quick' },
    h('p', { class: 'back' }, h('a', { href: '#/' }, '← All programs')),
    h('h1', { id: 'quick-title' }, 'Quick start'),
    h('p', { class: 'hint' }, 'Run a one-off command. It is never written to programs.d, it is gone when the daemon restarts, and its output is kept for a while after it ends.'),
    can(NEEDS.quickStart) ? null : h('p', { class: 'notice-inline' }, "Your token's role cannot start commands."),
    run ? run.element : form,
    run ? h('p', {}, h('a', { href: '#/quick' }, 'Run another command')) : null,
    h(
      'div',
      { class: 'section' },
      h('h2', {}, 'Recent runs'),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'programs quick-runs' },
          h('thead', {}, h('tr', {}, ['Run', 'State', 'Command', 'Started', 'Exit'].map((label) => h('th', { scope: 'col' }, label)))),
          recent,
        ),
      ),
    ),
  );
  applyRole(element);

  async function loadRecent() {
    try {
      const { data } = await call('GET', '/quick-start');
      if (disposed) return;
      const runs = [...(data?.programs ?? [])].sort((a, b) => b.id - a.id);
      fill(
        recent,
        runs.length === 0 ? h('tr', {}, h('td', { colspan: '5' }, 'No runs kept.')) : null,
        runs.map((one) =>
          h(
            'tr',
            { dataset: { run: String(one.id) } },
            h('td', { dataset: { label: 'Run' } }, h('a', { href: `#/quick/${segment(one.id)}` }, `#${one.id}`)),
            h('td', { dataset: { label: 'State' } }, stateBadge(one.status)),
            h('td', { dataset: { label: 'Command' } }, h('code', {}, Array.isArray(one.command) ? one.command.join(' ') : String(one.command ?? ''))),
            h('td', { dataset: { label: 'Started' } }, formatTime(one.started_at ?? one.created_at)),
            h('td', { dataset: { label: 'Exit' } }, one.exit_code ?? (one.timed_out ? 'timed out' : formatExit(one.last_exit))),
          ),
        ),
      );
    } catch (error) {
      ctx.fail(error, 'Read the quick-start runs');
    }
  }

  loadRecent();
  return {
    element,
    title: run ? `Quick start #${id}` : 'Quick start',
    onOpen() {
      loadRecent();
      run?.refresh();
    },
    onEvent(type, event) {
      // Quick-start programs have no id in events (they are not in programs.d).
      if (type === 'state' && (event.id === null || event.id === undefined)) {
        loadRecent();
        run?.refresh();
      }
    },
    tick() {},
    dispose() {
      disposed = true;
      run?.dispose();
    },
  };
}

/** One run: its status, a Stop button, and its output live. */
function runPanel(ctx, id) {
  const badge = stateBadge(null);
  const facts = h('dl', { class: 'details' });
  const logs = logPanel(ctx, `/quick-start/${segment(id)}/logs`, `Run #${id}`);
  const stop = actionButton('Stop', NEEDS.quickStart, async () => {
    try {
      await call('POST', `/quick-start/${segment(id)}/stop`);
    } catch (error) {
      ctx.fail(error, `Stop run #${id}`);
    }
  });
  const element = h(
    'div',
    { class: 'quick-run' },
    h('div', { class: 'program-head' }, h('h2', {}, `Run #${id}`), badge, stop),
    facts,
    logs.element,
  );
  let disposed = false;

  async function refresh() {
    try {
      const { data } = await call('GET', `/quick-start/${segment(id)}/status`);
      if (disposed) return;
      const status = data?.status ?? {};
      setState(badge, status.status);
      element.dataset.state = status.status ?? '';
      stop.disabled = !UP.has(status.status);
      const rows = [
        ['Command', Array.isArray(status.command) ? status.command.join(' ') : (status.command ?? DASH)],
        ['PID', status.pid ?? DASH],
        ['Started', formatTime(status.started_at ?? status.created_at)],
        ['Exit code', status.exit_code ?? DASH],
        ['Last exit', formatExit(status.last_exit)],
        ['Timed out', status.timed_out ? 'yes' : 'no'],
        ['Last error', status.last_error ?? DASH],
      ];
      fill(facts, rows.map(([label, value]) => h('div', {}, h('dt', {}, label), h('dd', { dataset: { field: label.toLowerCase().replaceAll(' ', '-') } }, String(value)))));
    } catch (error) {
      if (error.status === 404) {
        fill(facts, h('p', { class: 'notice-inline error' }, `Run #${id} is not kept any more.`));
        logs.stop();
      } else ctx.fail(error, `Read run #${id}`);
    }
  }

  refresh();
  if (can(NEEDS.quickStart)) logs.start();
  return {
    element,
    refresh,
    dispose() {
      disposed = true;
      logs.stop();
    },
  };
}
