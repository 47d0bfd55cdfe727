// The page's one way to the daemon: JSON requests in the API's envelope, and server-sent event
// streams read with fetch (EventSource cannot send an Authorization header, and the token must
// never go in a URL).

import { token } from './session.js';

export const BASE = '/api/v1/daemon';

/** An answer that is not 2xx, or no answer at all (`status` 0). */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details ?? null;
  }
}

let unauthorized = () => {};

/** Called with the daemon's message on every 401 (the app asks for a token). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function headersFor(extra, hasBody) {
  const headers = new Headers(extra ?? {});
  const bearer = token();
  if (bearer) headers.set('Authorization', `Bearer ${bearer}`);
  if (hasBody) headers.set('Content-Type', 'application/json');
  return headers;
}

async function send(method, path, { body, headers, signal, accept } = {}) {
  const hasBody = body !== undefined;
  const all = headersFor(headers, hasBody);
  all.set('Accept', accept ?? 'application/json');
  try {
    return await fetch(BASE + path, {
      method,
      headers: all,
      body: hasBody ? JSON.stringify(body) : undefined,
      signal,
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'unreachable', `the daemon does not answer (${error.message})`);
  }
}

async function failure(response) {
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    // Not the API's envelope (a proxy's page): the status line says enough.
  }
  const message = envelope?.message ?? `${response.status} ${response.statusText}`;
  if (response.status === 401) unauthorized(message);
  return new ApiError(
    response.status,
    envelope?.error?.code ?? `http_${response.status}`,
    message,
    envelope?.error?.details,
  );
}

/**
 * A request to the API: `call('POST', '/programs/web/start')`. Answers `{data, message,
 * status, etag}`; throws an ApiError for anything but 2xx.
 */
export async function call(method, path, options = {}) {
  const response = await send(method, path, options);
  if (!response.ok) throw await failure(response);
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    throw new ApiError(response.status, 'not_json', `${method} ${path}: the answer is not JSON`);
  }
  return {
    data: envelope?.data ?? null,
    message: envelope?.message ?? '',
    status: response.status,
    etag: response.headers.get('ETag'),
  };
}

/**
 * Reads a server-sent event stream until it ends (resolves), fails (throws an ApiError) or is
 * aborted (throws AbortError). `onOpen` runs once the daemon has answered 200, `onEvent(type,
 * data)` for each event; comments (keep-alives, a last word before a slow reader is dropped)
 * go to `onComment`.
 */
export async function stream(path, { onOpen, onEvent, onComment, signal }) {
  const response = await send('GET', path, { signal, accept: 'text/event-stream' });
  if (!response.ok) throw await failure(response);
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let type = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let start = 0;
    for (;;) {
      const end = buffer.indexOf('\n', start);
      if (end < 0) break;
      let line = buffer.slice(start, end);
      start = end + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) onEvent?.(type || 'message', data.join('\n'));
        type = '';
        data = [];
      } else if (line.startsWith(':')) {
        onComment?.(line.slice(1).trim());
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'event') type = text;
        else if (field === 'data') data.push(text);
      }
    }
    buffer = buffer.slice(start);
  }
}

/** A path segment for a program id or name. */
export function segment(id) {
  return encodeURIComponent(String(id));
}
