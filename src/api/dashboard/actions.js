// What the buttons do: one request per action, the same ones the CLI sends. Results show as
// notices; the rows and pages update from the event stream, not from these answers.

import { call, segment } from './api.js';
import { h, UP } from './dom.js';
import { NEEDS } from './session.js';

/** The signals a program may be sent (SPEC §3, the stop signals). */
export const SIGNALS = ['HUP', 'TERM', 'INT', 'QUIT', 'USR1', 'USR2', 'KILL'];

const ACTIONS = {
  start: { label: 'Start', done: 'started' },
  stop: { label: 'Stop', done: 'stopped' },
  restart: { label: 'Restart', done: 'restarted' },
  enable: { label: 'Enable', done: 'enabled' },
  disable: { label: 'Disable', done: 'disabled' },
};

/** Runs `start`, `stop`, `restart`, `enable` or `disable` on one program. */
export async function act(ctx, action, name) {
  try {
    const { message } = await call('POST', `/programs/${segment(name)}/${action}`);
    ctx.notify(`${name}: ${message && message !== 'OK' ? message : ACTIONS[action].done}`, 'ok');
    return true;
  } catch (error) {
    ctx.fail(error, `${ACTIONS[action].label} ${name}`);
    return false;
  }
}

/** Sends a signal (POST /programs/{id}/signal, `{"signal": "HUP"}`). */
export async function signal(ctx, name, which) {
  try {
    await call('POST', `/programs/${segment(name)}/signal`, { body: { signal: which } });
    ctx.notify(`${name}: sent SIG${which}`, 'ok');
  } catch (error) {
    if (error.status === 404 && error.code === 'no_route') {
      ctx.fail(error, `Signal ${name}`, 'this daemon has no signal endpoint (404)');
    } else {
      ctx.fail(error, `Signal ${name}`);
    }
  }
}

/** Removes a program (its file is deleted, its process stopped) after asking. */
export async function remove(ctx, name) {
  const sure = await ctx.confirm(
    `Remove ${name}? Its file is deleted from programs.d and its process is stopped. The history keeps the file's last text.`,
    `Remove ${name}`,
  );
  if (!sure) return false;
  try {
    await call('POST', `/programs/remove/${segment(name)}`);
    ctx.notify(`${name}: removed`, 'ok');
    return true;
  } catch (error) {
    ctx.fail(error, `Remove ${name}`);
    return false;
  }
}

/**
 * A button that runs an action and is busy (disabled) until it answered. `needs` is the role
 * it needs (hidden for weaker roles, see dom.js applyRole).
 */
export function actionButton(label, needs, run, extra = {}) {
  const button = h('button', { type: 'button', needs, ...extra }, label);
  button.addEventListener('click', async () => {
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    button.disabled = true;
    try {
      await run();
    } finally {
      button.removeAttribute('aria-busy');
      button.disabled = button.dataset.off === 'true';
    }
  });
  return button;
}

/** Turns an action button off (or on) for a reason other than being busy. */
export function setOff(button, off, why) {
  button.dataset.off = String(off);
  if (button.getAttribute('aria-busy') !== 'true') button.disabled = off;
  if (why) button.title = why;
  else button.removeAttribute('title');
}

/** The per-program buttons Start, Stop and Restart, kept in step with a status. */
export function runButtons(ctx, name) {
  const start = actionButton('Start', NEEDS.start, () => act(ctx, 'start', name), { dataset: { action: 'start' } });
  const stop = actionButton('Stop', NEEDS.stop, () => act(ctx, 'stop', name), { dataset: { action: 'stop' } });
  const restart = actionButton('Restart', NEEDS.restart, () => act(ctx, 'restart', name), { dataset: { action: 'restart' } });
  return {
    buttons: [start, stop, restart],
    update(status) {
      const up = UP.has(status.status);
      setOff(start, up && status.status !== 'BACKOFF', up ? 'already running' : null);
      setOff(stop, !up, up ? null : 'not running');
      setOff(restart, status.status === 'STOPPING', null);
    },
  };
}

/** Which programs an all-programs action applies to, from their statuses. */
export function targetsOf(action, statuses) {
  return statuses
    .filter((status) => {
      if (action === 'start') return status.enabled && !UP.has(status.status);
      if (action === 'stop') return UP.has(status.status) && status.status !== 'STOPPING';
      return status.enabled && UP.has(status.status) && status.status !== 'STOPPING';
    })
    .map((status) => status.name);
}

/**
 * Start, stop or restart every program it applies to (as supervisord's Start All / Stop All /
 * Restart All), a few requests at a time, each answering at once (`wait=false`): the rows follow
 * from the events.
 */
export async function actOnAll(ctx, action, statuses) {
  const names = targetsOf(action, statuses);
  const label = ACTIONS[action].label;
  if (names.length === 0) {
    ctx.notify(`${label} all: nothing to ${action}`, 'ok');
    return;
  }
  if (action !== 'start') {
    const sure = await ctx.confirm(`${label} ${names.length} program${names.length === 1 ? '' : 's'}: ${names.join(', ')}?`, `${label} all`);
    if (!sure) return;
  }
  const failed = [];
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      try {
        await call('POST', `/programs/${segment(name)}/${action}?wait=false`);
      } catch (error) {
        failed.push(`${name}: ${error.message}`);
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  if (failed.length) {
    ctx.notify(`${label} all: ${failed.length} of ${names.length} failed — ${failed.join('; ')}`, 'error');
  } else {
    ctx.notify(`${label} all: ${names.length} program${names.length === 1 ? '' : 's'} ${ACTIONS[action].done}`, 'ok');
  }
}
