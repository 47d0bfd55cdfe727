// Who the page is: the bearer token (kept for this tab only) and the role the daemon gives it.
//
// The token lives in sessionStorage: it survives a reload of the tab and is gone when the tab
// closes; it is never kept in the browser's lasting storage, a cookie or a URL, and it is sent only in the
// Authorization header of the page's own requests.
//
// The role comes from GET /api/v1/daemon/whoami (SPEC §10: `data.role` is read, operate, admin
// or null; `auth` is how it was told: token, peer or none). An older daemon without that route
// (404) leaves the role unknown: then every action shows and the API's answers decide (a 403
// `forbidden` names the role needed). `can` is the one
// place the page asks; elements built with `needs` (dom.js `h`) are hidden by `applyRole`.

const TOKEN_KEY = 'hoody-daemon.token';

/** The roles, weakest first (SPEC §10). */
export const ROLES = ['read', 'operate', 'admin'];

/** The least role each kind of action needs (SPEC §10). */
export const NEEDS = {
  start: 'operate',
  stop: 'operate',
  restart: 'operate',
  signal: 'operate',
  logs: 'operate',
  enable: 'admin',
  disable: 'admin',
  remove: 'admin',
  edit: 'admin',
  quickStart: 'admin',
};

/** What the daemon said about this page's token; `known` is false until it said anything. */
export const session = {
  known: false,
  role: null,
  auth: null,
  tokenName: null,
};

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Sets what GET /whoami answered (`null` when the daemon has no such route). */
export function setWhoami(data) {
  session.known = Boolean(data);
  session.role = data?.role ?? null;
  session.auth = data?.auth ?? null;
  session.tokenName = typeof data?.token === 'string' ? data.token : null;
}

/** Whether the page's role covers `needed` (a role name). True while the role is unknown. */
export function can(needed) {
  if (!session.known || !ROLES.includes(session.role)) return true;
  return ROLES.indexOf(session.role) >= ROLES.indexOf(needed);
}
