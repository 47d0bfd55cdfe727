// A server-sent event stream that stays open: when it ends or fails it is opened again after a
// growing pause (0.5 s, 1 s, 2 s … at most 15 s, with some jitter so many tabs do not return at
// once); an answer that retrying cannot change (401, 403, 404, 409 …) ends it.

import { stream } from './api.js';

const FIRST_PAUSE = 500;
const LONGEST_PAUSE = 15000;

/**
 * Follows `path`. Handlers: `onOpen()` at each (re)connection — the moment to re-read what may
 * have been missed —, `onEvent(type, data)`, `onWait(milliseconds, error)` before a new try,
 * `onEnd(error)` when it gives up. Returns `{ stop() }`.
 */
export function follow(path, handlers) {
  let stopped = false;
  let controller = null;
  let timer = null;
  let pause = FIRST_PAUSE;

  async function attempt() {
    if (stopped) return;
    controller = new AbortController();
    let problem = null;
    try {
      await stream(path, {
        signal: controller.signal,
        onOpen: () => {
          pause = FIRST_PAUSE;
          handlers.onOpen?.();
        },
        onEvent: (type, data) => {
          if (!stopped) handlers.onEvent?.(type, data);
        },
      });
    } catch (error) {
      if (stopped || error.name === 'AbortError') return;
      if (error.status >= 400 && error.status < 500) {
        handlers.onEnd?.(error);
        return;
      }
      problem = error;
    }
    if (stopped) return;
    const wait = Math.round(pause * (0.75 + Math.random() * 0.5));
    pause = Math.min(pause * 2, LONGEST_PAUSE);
    handlers.onWait?.(wait, problem);
    timer = setTimeout(attempt, wait);
  }

  attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
    },
  };
}
