// The seed's TypeScript snippet (shared/seed/daemons.md, "Process Lifecycle"), adapted only in
// its import and its base URL: the seed reaches the daemon through the Hoody platform's SDK
// (`new HoodyClient(...)`, `client.withContainer(...)`, `containerClient.daemon`); here the
// daemon is reached directly, so those lines become the import of this package and a
// `containerClient.daemon` made with the daemon's URL. Every line after them is the seed's,
// as it is written there. It is compiled by `tsc --strict` (tsconfig.test.json) with no cast,
// and run against a real daemon by seed.test.ts.
import { DaemonClient } from 'hoody-daemon-client';

export async function seedSnippet(BASE_URL: string) {
  const containerClient = { daemon: new DaemonClient({ baseURL: BASE_URL, token: process.env.HOODY_TOKEN }) };

  // Create a daemon program
  const result = await containerClient.daemon.programs.add({
    name: 'web-server',
    command: '/usr/bin/node /app/server.js',
    user: 'www-data',
    autorestart: 'true',
    directory: '/app',
  });
  const programId = result.data.id;

  // Enable and start
  await containerClient.daemon.control.enable(programId);
  await containerClient.daemon.control.start(programId);

  // Check status
  const status = await containerClient.daemon.status.get(programId);

  // Stop and remove
  await containerClient.daemon.control.stop(programId);
  await containerClient.daemon.control.disable(programId);
  await containerClient.daemon.programs.remove(programId);

  return { result, programId, status };
}
