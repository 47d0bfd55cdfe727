// The seed's snippet (seed.ts) against a real daemon, with a token and without one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

import { DaemonClient, type ProcessState } from 'hoody-daemon-client';

import { Daemon } from './harness.js';
import { seedSnippet } from './seed.js';

/** What the seed's program needs on the machine: its script (a server that listens and waits). */
const SEED_FILES = {
  '/app/server.js': "require('node:http').createServer((_, response) => response.end('ok')).listen(0, '127.0.0.1');\n",
};

async function runSeed(daemon: Daemon): Promise<void> {
  const { result, programId, status } = await seedSnippet(daemon.url);
  // Typed without a cast: the id is a number, the state one of the seed's names.
  const id: number = programId;
  const state: ProcessState = status.data.status.status;
  assert.equal(result.statusCode, 201);
  assert.equal(result.data.name, 'web-server');
  assert.equal(status.data.success, true);
  assert.equal(status.data.status.id, id);
  // In the daemon's root /app/server.js exists: node runs it as www-data.
  assert.equal(state, 'RUNNING');
  assert.equal(typeof status.data.status.pid, 'number');
  assert.equal(status.data.status.last_error, null);
  // The seed's flow ends with the program gone.
  const client = new DaemonClient({ baseURL: daemon.url, token: process.env.HOODY_TOKEN });
  const listed = await client.programs.list();
  assert.deepEqual(listed.data.programs.map((program) => program.name), []);
  assert.equal(fs.readdirSync(daemon.programsDir).length, 0);
}

test("the seed's snippet runs against a daemon with a token", async () => {
  const token = `seed-${process.pid}-${Date.now()}`;
  const daemon = await Daemon.start({ token, files: SEED_FILES });
  process.env.HOODY_TOKEN = token;
  try {
    await runSeed(daemon);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.stack : String(error)}\n--- daemon log\n${daemon.log()}`);
  } finally {
    delete process.env.HOODY_TOKEN;
    await daemon.stop();
  }
});

test("the seed's snippet runs against a daemon without a token", async () => {
  const daemon = await Daemon.start({ files: SEED_FILES });
  delete process.env.HOODY_TOKEN;
  try {
    await runSeed(daemon);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.stack : String(error)}\n--- daemon log\n${daemon.log()}`);
  } finally {
    await daemon.stop();
  }
});
