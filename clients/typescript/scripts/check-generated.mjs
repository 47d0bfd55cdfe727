// Checks that src/schema.ts is what openapi-typescript generates from openapi.json (the
// daemon's document, itself checked against the daemon by `cargo test`). On a difference:
// `npm run generate`, and commit both.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hoody-client-'));
const generated = path.join(scratch, 'schema.ts');
try {
  const run = spawnSync(path.join(here, 'node_modules', '.bin', 'openapi-typescript'), ['openapi.json', '--output', generated], {
    cwd: here,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (run.error || run.status !== 0) {
    console.error(`openapi-typescript failed (${run.error?.message ?? `exit ${run.status}`})`);
    process.exit(1);
  }
  const committed = fs.readFileSync(path.join(here, 'src', 'schema.ts'), 'utf8');
  if (fs.readFileSync(generated, 'utf8') !== committed) {
    console.error('src/schema.ts is not what openapi-typescript generates from openapi.json: run `npm run generate` and commit it');
    process.exit(1);
  }
  console.log('src/schema.ts is current with openapi.json');
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
