// The dashboard's entry: the router (`#/`, `#/program/NAME`, `#/quick`, `#/quick/ID`), the
// one event stream every view listens to, the token prompt, notices and confirmations.
//
// Views are objects `{element, title, onOpen(), onEvent(type, event), tick(), dispose()}`: the
// app mounts one at a time, hands it the events of GET /events, and tells it when the stream
// (re)opened so it can re-read what it may have missed.

import { call, onUnauthorized } from './api.js';
import { follow } from './live.js';
import { listView } from './list.js';
import { programView } from './program.js';
import { quickView } from './quick.js';
import { h } from './dom.js';
import { forgetToken, session, setToken, setWhoami, token } from './session.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const notices = document.getElementById('notices');
const who = document.getElementById('who');
const signIn = document.getElementById('sign-in');
const forget = document.getElementById('forget-token');
const tokenDialog = document.getElementById('token-dialog');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenReason = document.getElementById('token-reason');
const confirmDialog = document.getElementById('confirm-dialog');
const confirmText = document.getElementById('confirm-text');
const confirmOk = document.getElementById('confirm-ok');
const confirmCancel = document.getElementById('confirm-cancel');

let view = null;
let events = null;
/** Set by a 401 since the token last changed: the header then offers the prompt again. */
let needsToken = false;
/** False once GET /whoami answered 404 (an older daemon without it): not asked again. */
let whoamiExists = true;

// ---- notices ----------------------------------------------------------------------------

/** A notice: `ok` ones go after a few seconds, errors stay until dismissed. */
function notify(message, kind = 'ok') {
  const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss' }, '×');
  const notice = h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('span', {}, message), close);
  close.addEventListener('click', () => notice.remove());
  notices.append(notice);
  while (notices.childElementCount > 5) notices.firstElementChild.remove();
  if (kind !== 'error') setTimeout(() => notice.remove(), 4000);
}

/** An action failed: say what, and why in the daemon's words. */
function fail(error, what, instead) {
  let why = instead ?? error.message;
  if (error.status === 403 && error.code === 'forbidden') why = `your token's role cannot do this (${error.message})`;
  else if (error.status === 401) why = 'a token is needed';
  notify(`${what}: ${why}`, 'error');
}

/** Asks before a destructive action; resolves true when confirmed. */
function confirm(message, action) {
  confirmText.textContent = message;
  confirmOk.textContent = action;
  confirmDialog.returnValue = '';
  confirmDialog.showModal();
  confirmCancel.focus();
  return new Promise((resolve) => {
    confirmDialog.addEventListener('close', () => resolve(confirmDialog.returnValue === 'ok'), { once: true });
  });
}
confirmOk.addEventListener('click', () => confirmDialog.close('ok'));
confirmCancel.addEventListener('click', () => confirmDialog.close('cancel'));

const ctx = {
  notify,
  fail,
  confirm,
  go(hash) {
    location.hash = hash;
  },
};

// ---- the token --------------------------------------------------------------------------

function askToken(reason) {
  needsToken = true;
  tokenReason.textContent = token()
    ? `The daemon refused the token: ${reason}`
    : 'This daemon needs a bearer token (HOODY_DAEMON_TOKEN, --token-file or a tokens file).';
  if (!tokenDialog.open) {
    tokenInput.value = '';
    tokenDialog.showModal();
    tokenInput.focus();
  }
  signIn.hidden = false;
}
onUnauthorized(askToken);

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = tokenInput.value.trim();
  if (!value) return;
  setToken(value);
  needsToken = false;
  tokenInput.value = '';
  tokenDialog.close();
  start();
});
signIn.addEventListener('click', () => askToken(''));
forget.addEventListener('click', () => {
  forgetToken();
  needsToken = false;
  start();
});

function showWho() {
  const hasToken = Boolean(token());
  forget.hidden = !hasToken;
  // No role and no token: the daemon has tokens, and this page has none yet.
  signIn.hidden = !needsToken && !(session.known && !session.role && !hasToken);
  const name = session.tokenName ? ` (${session.tokenName})` : '';
  who.textContent = session.known && session.role ? `role: ${session.role}${name}` : hasToken ? 'token set' : '';
  document.body.classList.toggle('read-only', session.known && session.role === 'read');
}

/** GET /whoami (SPEC §10): the role of this page's token. A daemon without it answers 404. */
async function loadWhoami() {
  if (!whoamiExists) return;
  try {
    const { data } = await call('GET', '/whoami');
    setWhoami(data);
  } catch (error) {
    if (error.status === 404) whoamiExists = false;
    setWhoami(null);
  }
}

// ---- the event stream and the views -------------------------------------------------------

function setLive(kind, text) {
  live.dataset.kind = kind;
  live.textContent = text;
}

function startEvents() {
  events?.stop();
  setLive('wait', 'connecting…');
  events = follow('/events', {
    onOpen() {
      setLive('ok', 'live');
      view?.onOpen?.();
    },
    onEvent(type, data) {
      let event = null;
      try {
        event = JSON.parse(data);
      } catch {
        return;
      }
      view?.onEvent?.(type, event);
    },
    onWait(wait) {
      setLive('warn', `disconnected; again in ${Math.ceil(wait / 1000)} s`);
    },
    onEnd(error) {
      setLive('error', error.status === 401 ? 'needs a token' : `not live: ${error.message}`);
    },
  });
}

function route() {
  view?.dispose?.();
  const match = /^#\/([^/]*)(?:\/(.*))?$/.exec(location.hash || '#/') ?? [];
  const [, page = '', argument] = match;
  if (page === 'program' && argument) view = programView(ctx, decodeURIComponent(argument));
  else if (page === 'quick') view = quickView(ctx, argument ? decodeURIComponent(argument) : null);
  else view = listView(ctx);
  main.replaceChildren(view.element);
  document.title = `${view.title} · hoody-daemon`;
  for (const link of document.querySelectorAll('[data-nav]')) {
    const current = link.dataset.nav === (page === 'quick' ? 'quick' : 'programs');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.focus({ preventScroll: true });
}

/** (Re)starts everything: after loading, and after the token changed. */
async function start() {
  events?.stop();
  await loadWhoami();
  showWho();
  if (session.known && session.auth === true && !session.role && !token()) {
    askToken('');
    return;
  }
  startEvents();
  route();
}

window.addEventListener('hashchange', route);
setInterval(() => {
  if (!document.hidden) view?.tick?.();
}, 1000);

call('GET', '/health')
  .then(({ data }) => {
    document.getElementById('version').textContent = data?.version ? `v${data.version}` : '';
  })
  .catch(() => {});
start();
