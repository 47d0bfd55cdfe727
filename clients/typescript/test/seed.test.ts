// The seed's snippet (seed.ts) against a real daemon, with a token and without one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

import { DaemonClient, type ProcessState } from 'hoody-daemon-client';

import { Daemon } from './harness.js';
import { seedSnippet } from './seed.js';

async function runSeed(daemon: Daemon): Promise<void> {
  const { result, programId, status } = await seedSnippet(daemon.url);
  // Typed without a cast: the id is a number, the state one of the seed's names.
  const id: number = programId;
  const state: ProcessState = status.data.status.status;
  assert.equal(result.statusCode, 201);
  assert.equal(result.data.name, 'web-server');
  assert.equal(status.data.success, true);
  assert.equal(status.data.status.id, id);
  // /app is not on this machine: the process cannot start, and the status says why.
  assert.ok(['FATAL', 'BACKOFF'].includes(state), state);
  assert.match(status.data.status.last_error ?? '', /\/app/);
  // The seed's flow ends with the program gone.
  const client = new DaemonClient({ baseURL: daemon.url, token: process.env.HOODY_TOKEN });
  const listed = await client.programs.list();
  assert.deepEqual(listed.data.programs.map((program) => program.name), []);
  assert.equal(fs.readdirSync(daemon.programsDir).length, 0);
}

test("the seed's snippet runs against a daemon with a token", async () => {
  const token = `seed-${process.pid}-${Date.now()}`;
  const daemon = await Daemon.start({ token });
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
  const daemon = await Daemon.start();
  delete process.env.HOODY_TOKEN;
  try {
    await runSeed(daemon);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.stack : String(error)}\n--- daemon log\n${daemon.log()}`);
  } finally {
    await daemon.stop();
  }
});
