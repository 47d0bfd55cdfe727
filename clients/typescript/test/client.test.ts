// Every call of the client against a real daemon: the answers typed from the document (each
// read below is type-checked by tsc --strict, with no cast), errors thrown as DaemonError,
// server-sent events read with fetch (so a bearer token goes in a header), with a token and
// with roles.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import {
  DaemonClient,
  DaemonError,
  type DaemonEvent,
  type ErrorCode,
  type LogLine,
  type ProcessState,
  type Program,
  type Status,
} from 'hoody-daemon-client';

import { DEADLINE, Daemon, waitUntil } from './harness.js';

/** Runs `body` with a daemon, adding its log to a failure, and stops it. */
async function withDaemon(options: Parameters<typeof Daemon.start>[0], body: (daemon: Daemon) => Promise<void>): Promise<void> {
  const daemon = await Daemon.start(options);
  try {
    await body(daemon);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.stack : String(error)}\n--- daemon log\n${daemon.log()}`);
  } finally {
    await daemon.stop();
  }
}

/** The DaemonError a call throws. */
async function refusal(call: Promise<unknown>): Promise<DaemonError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof DaemonError) return error;
    throw error;
  }
  assert.fail('the call succeeded');
}

// Wrong uses are compile errors (tsc fails on an @ts-expect-error that is not one). The
// function is never called.
export function wrongUsesDoNotCompile(daemon: DaemonClient): void {
  // @ts-expect-error a new program needs a command
  void daemon.programs.add({ name: 'web' });
  // @ts-expect-error ids are numbers or names
  void daemon.control.start({ id: 1 });
  // @ts-expect-error the stream is stdout, stderr or both
  void daemon.logs.get(1, { stream: 'everything' });
  void daemon.status.get(1).then((status) => {
    // @ts-expect-error a state is one of the seed's names
    const state: 'RUNNING' = status.data.status.status;
    return state;
  });
}

test('programs, control, status, logs and quick-start, typed, against a daemon with a token', async () => {
  const token = `client-${process.pid}-${Date.now()}`;
  await withDaemon({ token }, async (daemon) => {
    const client = new DaemonClient({ baseURL: daemon.url, token });

    const health = await client.health();
    assert.equal(health.data.status, 'ok');
    const whoami = await client.whoami();
    assert.deepEqual(whoami.data, { role: 'admin', token: 'admin-token', auth: 'token' });

    // programs.add answers 201 with a numeric id; the fields come back in canonical form.
    const added = await client.programs.add(
      {
        name: 'counter',
        command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo line-$i; echo err-$i >&2; sleep 0.2; done'],
        autorestart: 'true',
        startsecs: 0,
        environment: { MODE: 'test' },
        stdout_logfile_maxbytes: 4096,
      },
      { format: 'yaml' },
    );
    assert.equal(added.statusCode, 201);
    const id: number = added.data.id;
    assert.equal(added.data.created, true);
    assert.match(added.data.file, /counter\.yaml$/);

    const listed = await client.programs.list();
    const program: Program | undefined = listed.data.programs.find((each) => each.id === id);
    assert.ok(program);
    assert.equal(program.autorestart, 'true');
    assert.equal(program.stdout_logfile_maxbytes, '4KB');
    assert.equal(program.environment?.MODE, 'test');
    assert.equal(program.format, 'yaml');

    // get: the ETag, and null for an If-None-Match that still matches.
    const got = await client.programs.get(id);
    assert.equal(got.data.program.name, 'counter');
    assert.ok(got.etag);
    assert.equal(await client.programs.get('counter', { ifNoneMatch: got.etag }), null);

    // edit: a merge, null resets; a stale If-Match is a 412 naming the current ETag.
    const edited = await client.programs.edit(id, { description: 'counts', priority: null }, { ifMatch: got.etag });
    assert.equal(edited.data.changed, true);
    assert.match(edited.data.diff, /\+description: counts/);
    const stale = await refusal(client.programs.edit(id, { description: 'again' }, { ifMatch: got.etag }));
    assert.equal(stale.statusCode, 412);
    const staleCode: ErrorCode | 'bad_answer' = stale.code;
    assert.equal(staleCode, 'stale');
    assert.ok(stale.details && !Array.isArray(stale.details) && typeof stale.details.etag === 'string');

    // control: enable → start (waits for RUNNING, with the status) → restart → stop → disable.
    await client.control.disable(id);
    const notEnabled = await refusal(client.control.start(id));
    assert.equal(notEnabled.statusCode, 409);
    assert.equal(notEnabled.code, 'not_enabled');
    const enabled = await client.control.enable('counter');
    assert.equal(enabled.data.enabled, true);
    const started = await client.control.start(id);
    const startedStatus: Status | undefined = started.data.status;
    assert.equal(startedStatus?.status, 'RUNNING');
    const restarted = await client.control.restart(id);
    assert.equal(restarted.data.changed, true);

    // status.get / status.list.
    const status = await client.status.get(id);
    const state: ProcessState = status.data.status.status;
    assert.equal(state, 'RUNNING');
    assert.equal(typeof status.data.status.pid, 'number');
    assert.match(status.data.status.uptime ?? '', /^\d+:\d\d:\d\d$/);
    const statuses = await client.status.list();
    assert.deepEqual(statuses.data.statuses.map((each) => each.name), ['counter']);

    // logs.get, and logs.follow: the last lines, then new ones as they come, in order.
    await waitUntil('output', async () => ((await client.logs.get(id, { lines: 5 })).data.stdout ?? '').includes('line-3'));
    const logs = await client.logs.get(id, { stream: 'stderr', lines: 2 });
    assert.equal(logs.data.stdout, null);
    assert.match(logs.data.stderr ?? '', /err-\d+\n/);
    const followed: LogLine[] = [];
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), DEADLINE);
    for await (const line of client.logs.follow(id, { stream: 'stdout', lines: 1, signal: abort.signal })) {
      followed.push(line);
      if (followed.length === 4) break;
    }
    clearTimeout(timer);
    assert.equal(followed.length, 4, 'four lines followed');
    const numbers = followed.map((line) => {
      assert.equal(line.stream, 'stdout');
      return Number(line.line.replace('line-', ''));
    });
    for (let index = 1; index < numbers.length; index += 1) assert.equal(numbers[index], (numbers[index - 1] ?? 0) + 1);

    // stream=all and the merged logs of every program: lines in time order, each with its program.
    const all = await client.logs.get(id, { stream: 'all', lines: 4 });
    assert.equal(all.data.stdout, null);
    assert.ok((all.data.lines ?? []).some((line) => line.stream === 'stderr'));
    const merged = await client.logs.all({ programs: [id], lines: 4 });
    assert.equal(merged.data.lines.length, 4);
    assert.ok(merged.data.lines.every((line) => line.program === 'counter'));
    const abortAll = new AbortController();
    const timerAll = setTimeout(() => abortAll.abort(), DEADLINE);
    let followedAll = 0;
    for await (const line of client.logs.followAll({ programs: ['counter'], lines: 0, signal: abortAll.signal })) {
      assert.equal(line.program, 'counter');
      followedAll += 1;
      if (followedAll === 2) break;
    }
    clearTimeout(timerAll);
    assert.equal(followedAll, 2);

    // history: the audit trail, with diffs for an admin.
    const history = await client.programs.history(id);
    assert.ok(history.data.history.length >= 2);
    assert.equal(history.data.history[0]?.change, 'created');
    assert.equal(typeof history.data.history[0]?.diff, 'string');

    // put: a whole file; 201 when it creates.
    const put = await client.programs.put('filed.toml', '# kept\ncommand = "sleep 1000"\nenabled = false\n');
    assert.equal(put.statusCode, 201);
    assert.equal(put.data.created, true);
    const replaced = await client.programs.put('filed.toml', '# kept\ncommand = "sleep 999"\nenabled = false\n');
    assert.equal(replaced.statusCode, 200);
    assert.equal(fs.readFileSync(path.join(daemon.programsDir, 'filed.toml'), 'utf8').includes('sleep 999'), true);

    // Errors: 404 naming the id, 400 naming the field.
    const missing = await refusal(client.status.get('nope'));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.code, 'not_found');
    assert.ok(missing.details && !Array.isArray(missing.details) && missing.details.id === 'nope');
    const invalid = await refusal(client.programs.add({ name: 'bad', command: 'sleep 1', startsecs: 'soon' }));
    assert.equal(invalid.statusCode, 400);
    assert.equal(invalid.code, 'invalid_fields');
    assert.ok(Array.isArray(invalid.details) && invalid.details.some((problem) => problem.field === 'startsecs'));

    // Quick-start: launch (201, a numeric id), status until it exits, logs, list, stop.
    const launched = await client.quickStart.launch({ command: ['sh', '-c', 'echo hello; echo oops >&2'], timeout_seconds: 30 });
    assert.equal(launched.statusCode, 201);
    const run: number = launched.data.id;
    await waitUntil('the run to end', async () => (await client.quickStart.status(run)).data.status?.exit_code === 0);
    const ran = await client.quickStart.status(`quick-start-${run}`);
    assert.equal(ran.data.status?.status, 'EXITED');
    const output = await client.quickStart.logs(run);
    assert.equal(output.data.stdout, 'hello\n');
    assert.equal(output.data.stderr, 'oops\n');
    const runs = await client.quickStart.list();
    assert.ok(runs.data.programs.some((each) => each.id === run));
    const long = await client.quickStart.launch({ command: 'sleep 1000' });
    const stopped = await client.quickStart.stop(long.data.id);
    assert.equal(stopped.data.id, long.data.id);
    assert.notEqual(stopped.data.status?.status, 'RUNNING');

    // Stop, remove.
    const stop = await client.control.stop(id);
    assert.equal(stop.data.status?.status, 'STOPPED');
    const removed = await client.programs.remove(id);
    assert.equal(removed.data.removed, true);
    await client.programs.remove('filed');
    assert.deepEqual((await client.programs.list()).data.programs, []);
  });
});

test('control.signal sends a signal to the process, by name or number', async () => {
  await withDaemon({}, async (daemon) => {
    const client = new DaemonClient({ baseURL: daemon.url });
    const added = await client.programs.add({
      name: 'trapper',
      command: ['sh', '-c', "trap 'echo got-hup' HUP; while true; do sleep 0.1; done"],
      startsecs: 0,
    });
    await client.control.start(added.data.id);
    const signalled = await client.control.signal(added.data.id, 'HUP');
    assert.equal(signalled.data.signal, 'HUP');
    assert.equal(typeof signalled.data.pid, 'number');
    await waitUntil('the trap to run', async () => ((await client.logs.get(added.data.id)).data.stdout ?? '').includes('got-hup'));
    const byNumber = await client.control.signal('trapper', 1);
    assert.equal(byNumber.data.signal, 'HUP');
    assert.equal(byNumber.data.number, 1);
    await client.control.stop('trapper');
    await assert.rejects(client.control.signal('trapper', 'HUP'), (error: unknown) => {
      assert.ok(error instanceof DaemonError);
      assert.equal(error.statusCode, 409);
      assert.equal(error.code, 'not_running');
      return true;
    });
  });
});

test('events() streams config and state changes with the token in a header', async () => {
  const token = `events-${process.pid}-${Date.now()}`;
  await withDaemon({ token }, async (daemon) => {
    const client = new DaemonClient({ baseURL: daemon.url, token });
    const abort = new AbortController();
    const events = client.events({ signal: abort.signal });
    const seen: DaemonEvent[] = [];
    const reading = (async () => {
      for await (const event of events) {
        seen.push(event);
        if (event.type === 'state' && event.name === 'evented' && event.to === 'RUNNING') return;
      }
    })();
    // The subscription is made when the stream is opened: write until the first event shows.
    await client.programs.add({ name: 'evented', command: 'sleep 1000', startsecs: 0, enabled: false });
    let round = 0;
    await waitUntil('a config event', async () => {
      if (seen.some((event) => event.type === 'config')) return true;
      round += 1;
      await client.programs.edit('evented', { description: `round ${round}` });
      return false;
    });
    await client.control.enable('evented');
    await client.control.start('evented');
    const timer = setTimeout(() => abort.abort(), DEADLINE);
    await reading;
    clearTimeout(timer);
    const config = seen.find((event) => event.type === 'config');
    assert.ok(config && config.type === 'config');
    assert.equal(config.name, 'evented');
    assert.equal(config.source, 'api');
    const running = seen.find((event) => event.type === 'state' && event.to === 'RUNNING');
    assert.ok(running && running.type === 'state');
    const from: ProcessState = running.from;
    assert.equal(from, 'STARTING');
  });
});

test('roles: 401 without a token, 403 for a role that does not cover the call, redacted reads', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), `hoody-client-tokens-${process.pid}-`));
  const tokens = path.join(folder, 'tokens.toml');
  fs.writeFileSync(
    tokens,
    '[[tokens]]\nname = "grafana"\nrole = "read"\ntoken = "read-secret"\n\n[[tokens]]\nname = "deployer"\nrole = "admin"\ntoken = "admin-secret"\n',
    { mode: 0o600 },
  );
  try {
    await withDaemon({ args: ['--tokens-file', tokens] }, async (daemon) => {
      const admin = new DaemonClient({ baseURL: daemon.url, token: 'admin-secret' });
      await admin.programs.add({ name: 'web', command: 'sleep 1000', environment: { KEY: 'secret' }, enabled: false });

      const nobody = new DaemonClient({ baseURL: daemon.url });
      const unauthorized = await refusal(nobody.status.list());
      assert.equal(unauthorized.statusCode, 401);
      assert.equal(unauthorized.code, 'unauthorized');
      assert.equal((await nobody.health()).data.status, 'ok');

      const read = new DaemonClient({ baseURL: `${daemon.url}/api/v1/daemon/`, token: 'read-secret' });
      const forbidden = await refusal(read.programs.remove('web'));
      assert.equal(forbidden.statusCode, 403);
      assert.equal(forbidden.code, 'forbidden');
      assert.ok(forbidden.details && !Array.isArray(forbidden.details) && forbidden.details.needed === 'admin');
      const program = await read.programs.get('web');
      assert.equal(program.data.program.environment?.KEY, '<redacted>');
      assert.equal(program.data.program.text, undefined);
      assert.equal(program.etag, null);
      assert.equal((await read.whoami()).data.role, 'read');
    });
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});
