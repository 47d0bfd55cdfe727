// Live logs of both streams: `GET …/logs?follow=true` read as server-sent events (an event
// `stdout` or `stderr` per line: the last lines first, then each new one), shown as text, a
// line a row, stderr marked. Lines are added in batches once per frame, and the view keeps the
// last MAX_LINES.

import { follow } from './live.js';
import { h } from './dom.js';

const MAX_LINES = 5000;
const TAIL = 200;

/**
 * A log panel for `path` (`/programs/web/logs`, `/quick-start/3/logs`). `start()` opens the
 * stream, `stop()` closes it; both are safe to call more than once.
 */
export function logPanel(ctx, path, label) {
  const box = h('div', {
    class: 'log',
    role: 'log',
    'aria-label': `${label}: stdout and stderr`,
    tabindex: '0',
  });
  const state = h('span', { class: 'log-state', role: 'status' }, 'not following');
  const showOut = h('input', { type: 'checkbox', checked: true });
  const showErr = h('input', { type: 'checkbox', checked: true });
  const scroll = h('input', { type: 'checkbox', checked: true });
  const wrap = h('input', { type: 'checkbox', checked: true });
  const pending = [];
  let frame = 0;
  let follower = null;

  const toggle = (input, className, when) =>
    input.addEventListener('change', () => box.classList.toggle(className, input.checked === when));
  toggle(showOut, 'hide-stdout', false);
  toggle(showErr, 'hide-stderr', false);
  toggle(wrap, 'nowrap', false);

  const element = h(
    'div',
    { class: 'log-panel' },
    h(
      'div',
      { class: 'toolbar log-tools' },
      h('label', {}, showOut, ' stdout'),
      h('label', {}, showErr, ' stderr'),
      h('label', {}, scroll, ' follow the end'),
      h('label', {}, wrap, ' wrap lines'),
      h('button', { type: 'button', onclick: () => clear() }, 'Clear view'),
      state,
    ),
    box,
  );

  function clear() {
    pending.length = 0;
    box.replaceChildren();
  }

  function flush() {
    frame = 0;
    const fragment = document.createDocumentFragment();
    for (const [stream, text] of pending.splice(0)) {
      fragment.append(
        h('div', { class: `line ${stream}` }, h('span', { class: 'stream', 'aria-hidden': 'true' }, stream === 'stderr' ? 'err' : 'out'), text),
      );
    }
    box.append(fragment);
    for (let extra = box.childElementCount - MAX_LINES; extra > 0; extra -= 1) {
      box.firstElementChild.remove();
    }
    if (scroll.checked) box.scrollTop = box.scrollHeight;
  }

  function add(stream, text) {
    pending.push([stream, text]);
    if (pending.length > MAX_LINES) pending.splice(0, pending.length - MAX_LINES);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  return {
    element,
    /** Shows why nothing is followed. */
    say(text) {
      state.textContent = text;
      state.dataset.kind = '';
    },
    start() {
      if (follower) return;
      let first = true;
      follower = follow(`${path}?follow=true&lines=${TAIL}`, {
        onOpen() {
          // A new connection sends the last lines again: start the view over.
          if (!first) clear();
          first = false;
          state.textContent = 'following';
          state.dataset.kind = 'ok';
        },
        onEvent(type, data) {
          if (type === 'stdout' || type === 'stderr') add(type, data);
        },
        onWait(wait) {
          state.textContent = `connection lost; trying again in ${Math.ceil(wait / 1000)} s`;
          state.dataset.kind = 'warn';
        },
        onEnd(error) {
          state.textContent = error.code === 'forbidden' ? `your token's role cannot read logs: ${error.message}` : error.message;
          state.dataset.kind = 'error';
          follower = null;
        },
      });
    },
    stop() {
      follower?.stop();
      follower = null;
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
      state.textContent = 'not following';
      state.dataset.kind = '';
    },
  };
}
