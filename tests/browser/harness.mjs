// What the browser tests share: the real hoody-daemon binary started on a temporary
// programs.d (port 0, the address read from state/api.address), a client of its API, headless
// Chromium driven by playwright-core, and a watch on the page's console.
//
// Every daemon is stopped, and every process it ran is ended by pid (checked against its
// kernel start time, so a reused pid is never hit), even when a test fails or the runner is
// interrupted.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Generous: these only bound a failure (the machine is shared and loaded). */
export const DEADLINE = 20_000;

// ---- the binary --------------------------------------------------------------------------

let binary = null;

/**
 * The daemon under test: $HOODY_DAEMON_BIN, or target/debug/hoody-daemon after a `cargo build`
 * (a no-op when it is fresh), so a test never runs a stale binary.
 */
export function daemonBinary() {
  if (binary) return binary;
  if (process.env.HOODY_DAEMON_BIN) {
    binary = process.env.HOODY_DAEMON_BIN;
  } else {
    const built = spawnSync('cargo', ['build', '--locked', '--bin', 'hoody-daemon'], {
      cwd: REPO,
      stdio: ['ignore', 2, 2],
    });
    if (built.error || built.status !== 0) {
      throw new Error(`cargo build failed (${built.error?.message ?? `exit ${built.status}`}); set HOODY_DAEMON_BIN to use a built binary`);
    }
    const target = process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
    binary = path.join(target, 'debug', 'hoody-daemon');
  }
  if (!fs.existsSync(binary)) throw new Error(`no hoody-daemon binary at ${binary}`);
  return binary;
}

// ---- processes -----------------------------------------------------------------------------

/** The kernel start time of a live process (field 22 of /proc/PID/stat), or null. */
function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command (field 2) is in parentheses and may hold spaces: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid, started) {
  const now = startTime(pid);
  return now !== null && (started === undefined || now === started);
}

/** SIGKILL to a process and its process group, if it is still the same process. */
function killProcess(pid, started) {
  if (!isAlive(pid, started)) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone already, or not a group leader.
    }
  }
}

/** Waits without a timer (usable in an exit handler): for at most `ms`. */
function blockFor(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const running = new Set();

process.on('exit', () => {
  for (const daemon of running) daemon.stopNow();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const daemon of running) daemon.stopNow();
    process.exit(130);
  });
}

// ---- the daemon ----------------------------------------------------------------------------

export class Daemon {
  /**
   * Starts a daemon on a new programs.d holding `programs` (file name → text). `token` is
   * given through HOODY_DAEMON_TOKEN, or, with `tokensFile` (the TOML of `serve --tokens-file`,
   * which must then hold `token` as an admin's), is the token this harness's own requests use.
   */
  static async start({ programs = {}, token = null, tokensFile = null } = {}) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `hoody-browser-${process.pid}-`));
    const daemon = new Daemon(root, token);
    if (tokensFile !== null) {
      daemon.tokensFile = path.join(root, 'tokens.toml');
      fs.writeFileSync(daemon.tokensFile, tokensFile, { mode: 0o600 });
    }
    fs.mkdirSync(daemon.programsDir);
    for (const [file, text] of Object.entries(programs)) daemon.write(file, text);
    await daemon.launch('127.0.0.1:0');
    return daemon;
  }

  /** Runs `serve` on the daemon's folders, listening on `listen`, until it has written its address. */
  async launch(listen) {
    const daemon = this;
    const address = path.join(daemon.stateDir, 'api.address');
    fs.rmSync(address, { force: true });
    const env = { ...process.env, HOODY_DAEMON_LOG: 'debug' };
    delete env.HOODY_DAEMON_TOKEN;
    if (this.token && !this.tokensFile) env.HOODY_DAEMON_TOKEN = this.token;
    const log = fs.openSync(daemon.logFile, 'a');
    daemon.child = spawn(
      daemonBinary(),
      [
        'serve',
        '--programs-dir', daemon.programsDir,
        '--state-dir', daemon.stateDir,
        '--log-dir', path.join(this.root, 'logs'),
        '--listen', listen,
        ...(this.tokensFile ? ['--tokens-file', this.tokensFile] : []),
      ],
      { stdio: ['ignore', 'ignore', log], env },
    );
    fs.closeSync(log);
    daemon.pid = daemon.child.pid;
    daemon.started = startTime(daemon.pid);
    daemon.exited = new Promise((resolve) => daemon.child.once('exit', resolve));
    running.add(daemon);
    daemon.url = await daemon.until('the daemon to listen', () => {
      const text = fs.existsSync(address) ? fs.readFileSync(address, 'utf8') : '';
      return text.endsWith('\n') ? text.trim() : null;
    });
  }

  /**
   * Stops the daemon (SIGTERM: it stops its programs and exits) and keeps its folders; then,
   * after `meanwhile()`, starts it again on the same address, as an upgrade or a crash-restart
   * under systemd would.
   */
  async restart(meanwhile = async () => {}) {
    const listen = new URL(this.url).host;
    await this.collectPids();
    process.kill(this.pid, 'SIGTERM');
    await this.exited;
    running.delete(this);
    await meanwhile();
    await this.launch(listen);
  }

  constructor(root, token) {
    this.root = root;
    this.token = token;
    this.tokensFile = null;
    this.programsDir = path.join(root, 'programs.d');
    this.stateDir = path.join(root, 'state');
    this.logFile = path.join(root, 'daemon.log');
    /** Every process the daemon was seen running: pid → kernel start time. */
    this.seen = new Map();
  }

  write(file, text) {
    fs.writeFileSync(path.join(this.programsDir, file), text);
  }

  read(file) {
    return fs.readFileSync(path.join(this.programsDir, file), 'utf8');
  }

  /** The daemon's own log, for failure messages. */
  log() {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(-8000);
    } catch {
      return '';
    }
  }

  /** A request to the API: `{status, body}`. */
  async api(method, apiPath, body) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${this.url}/api/v1/daemon${apiPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    if (method === 'GET' && apiPath.startsWith('/status')) this.remember(json);
    return { status: response.status, body: json, headers: response.headers };
  }

  remember(body) {
    const statuses = body?.data?.statuses ?? (body?.data?.status ? [body.data.status] : []);
    for (const status of statuses) {
      if (status?.pid && !this.seen.has(status.pid)) this.seen.set(status.pid, startTime(status.pid));
    }
  }

  /** Polls `probe` every 25 ms until it returns something truthy (returned) or the deadline passes. */
  async until(what, probe, deadline = DEADLINE) {
    const end = Date.now() + deadline;
    let last;
    for (;;) {
      try {
        last = await probe();
      } catch (error) {
        last = error;
      }
      if (last && !(last instanceof Error)) return last;
      if (Date.now() > end) {
        throw new Error(`timed out after ${deadline} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}\n--- daemon log\n${this.log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async status(name) {
    const { body } = await this.api('GET', `/status/${encodeURIComponent(name)}`);
    return body?.data?.status ?? null;
  }

  /** Waits until the API reports `name` in `state`; returns that status. */
  async waitState(name, state) {
    return this.until(`${name} to be ${state}`, async () => {
      const status = await this.status(name);
      return status?.status === state ? status : null;
    });
  }

  /** Stops the daemon (SIGTERM, which stops its programs) and ends whatever is left, by pid. */
  async stop() {
    if (!running.has(this)) return;
    await this.collectPids();
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), DEADLINE));
    if ((await Promise.race([this.exited, timeout])) === 'timeout') killProcess(this.pid, this.started);
    await this.exited;
    this.finish();
  }

  /** The synchronous stop, for an exit handler: SIGTERM, a bounded wait, SIGKILL. */
  stopNow() {
    if (!running.has(this)) return;
    this.collectRecorded();
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    for (let waited = 0; waited < 10_000 && isAlive(this.pid, this.started); waited += 50) blockFor(50);
    killProcess(this.pid, this.started);
    this.finish();
  }

  /** What the daemon runs: from the API (programs and quick-start runs) and its running.json. */
  async collectPids() {
    try {
      await this.api('GET', '/status');
      const quick = await this.api('GET', '/quick-start');
      for (const run of quick.body?.data?.programs ?? []) {
        if (run.pid && !this.seen.has(run.pid)) this.seen.set(run.pid, startTime(run.pid));
      }
    } catch {
      // The daemon may be gone: running.json still says what it ran.
    }
    this.collectRecorded();
  }

  collectRecorded() {
    const remember = (entry) => {
      if (entry?.pid && !this.seen.has(entry.pid)) this.seen.set(entry.pid, startTime(entry.pid));
    };
    try {
      const recorded = JSON.parse(fs.readFileSync(path.join(this.stateDir, 'running.json'), 'utf8'));
      for (const entry of Object.values(recorded)) remember(entry);
    } catch {
      // No record yet.
    }
    // The changes since running.json was written: one {"name", "value"} line each.
    try {
      const journal = fs.readFileSync(path.join(this.stateDir, 'running.json.journal'), 'utf8');
      for (const line of journal.split('\n')) {
        try {
          remember(JSON.parse(line)?.value);
        } catch {
          // A line cut short (the last one).
        }
      }
    } catch {
      // No journal.
    }
  }

  finish() {
    for (const [pid, started] of this.seen) if (started !== null) killProcess(pid, started);
    running.delete(this);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

// ---- the browser ---------------------------------------------------------------------------

/**
 * Headless Chromium (Debian's package). playwright-core gives it a fresh, empty user data
 * folder of its own (removed when the browser closes).
 */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium; .ci/run does) or set CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * Watches a page's console and errors. Anything the page logs, any uncaught error, fails the
 * test — except the browser's own "Failed to load resource" line for an answer the test
 * declared (`expect(/\/programs\/put$/, 412)`): Chromium logs every 4xx of a fetch, even one the
 * page handles (a 412 conflict, a 401 before the token prompt), and every failed connection
 * (`maybe(url, /net::ERR_CONNECTION_REFUSED/)` while a test has the daemon down). `expect`ed
 * answers must be seen; `maybe` ones may be.
 */
export function watchConsole(page) {
  const problems = [];
  const declared = [];
  page.on('console', (message) => {
    const url = message.location()?.url ?? '';
    const text = message.text();
    const match = declared.find(
      (entry) =>
        entry.url.test(url) &&
        text.startsWith('Failed to load resource') &&
        (entry.status instanceof RegExp ? entry.status.test(text) : text.includes(`status of ${entry.status}`)),
    );
    if (match) {
      match.seen += 1;
      return;
    }
    problems.push(`console ${message.type()}: ${text}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.stack ?? error.message}`));
  page.on('crash', () => problems.push('the page crashed'));
  const declare = (url, status, required) => declared.push({ url, status, required, seen: 0 });
  return {
    expect: (url, status) => declare(url, status, true),
    maybe: (url, status) => declare(url, status, false),
    assertClean() {
      assert.deepEqual([...problems], [], 'the page logged or threw');
      for (const entry of declared.filter((one) => one.required)) {
        assert.ok(entry.seen > 0, `expected a ${entry.status} from ${entry.url} and saw none`);
      }
    },
  };
}

/** Where the screenshots go: docs/ with UPDATE_SCREENSHOTS=1, else target/browser/. */
export function screenshotPath(name) {
  const folder = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(REPO, 'docs') : path.join(REPO, 'target', 'browser');
  fs.mkdirSync(folder, { recursive: true });
  return path.join(folder, name);
}
