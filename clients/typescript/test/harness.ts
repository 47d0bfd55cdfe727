// A real hoody-daemon for the client's tests: the binary of this repository (target/debug,
// built by `cargo build` when it is stale, or $HOODY_DAEMON_BIN) serving a temporary programs.d
// on 127.0.0.1, port 0; the address is read from state/api.address. Every daemon is stopped by
// its pid (SIGTERM, then SIGKILL to its process group), and its folder removed, even when a test
// fails or the runner is interrupted.
//
// With `files`, the daemon runs in a root of its own where those absolute paths exist (the
// seed's `/app/server.js`): a private mount namespace (`unshare --mount`) whose new root is a
// tmpfs holding the files, with every top-level folder of the machine bind-mounted in at its
// own path (so the test's temporary folders, the binary and the users are the same) and the
// machine's top-level symlinks copied. Nothing is created outside the test's folder: the mounts
// exist only in that namespace, and go with its last process. Needs root (as CI runs).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (clients/typescript/build-test/test → four levels up). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** Generous: deadlines only bound a failure (the machine is shared and loaded). */
export const DEADLINE = 20_000;

let binary: string | null = null;

function daemonBinary(): string {
  if (binary) return binary;
  if (process.env.HOODY_DAEMON_BIN) {
    binary = process.env.HOODY_DAEMON_BIN;
  } else {
    const built = spawnSync('cargo', ['build', '--locked', '--bin', 'hoody-daemon'], { cwd: REPO, stdio: ['ignore', 2, 2] });
    if (built.error || built.status !== 0) {
      throw new Error(`cargo build failed (${built.error?.message ?? `exit ${built.status}`}); set HOODY_DAEMON_BIN to use a built binary`);
    }
    const target = process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
    binary = path.join(target, 'debug', 'hoody-daemon');
  }
  if (!fs.existsSync(binary)) throw new Error(`no hoody-daemon binary at ${binary}`);
  return binary;
}

const running = new Set<Daemon>();
process.on('exit', () => {
  for (const daemon of running) daemon.kill();
});

/** Waits until `condition` holds, polling every 20 ms, for at most `ms`. */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, ms = DEADLINE): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The script that builds the root of `files` in a private mount namespace, then execs the daemon in it. */
const NEW_ROOT = `set -eu
new_root="$1"; files="$2"; shift 2
mount -t tmpfs -o mode=0755 hoody-test-root "$new_root"
cp -a "$files/." "$new_root/"
for entry in /*; do
  name="\${entry#/}"
  if [ -L "$entry" ]; then
    cp -P "$entry" "$new_root/$name"
  elif [ -d "$entry" ] && [ ! -e "$new_root/$name" ]; then
    mkdir "$new_root/$name"
    mount --rbind "$entry" "$new_root/$name"
  fi
done
cd /
exec chroot "$new_root" "$@"
`;

/** The command that runs `command` in a root of its own where `files` (absolute path → text) exist. */
function inRootOf(root: string, files: Record<string, string>, command: string[]): string[] {
  if (process.getuid?.() !== 0) throw new Error('a daemon with `files` needs root (a mount namespace and a chroot); CI runs as root');
  const staged = path.join(root, 'files');
  for (const [file, text] of Object.entries(files)) {
    if (!path.isAbsolute(file)) throw new Error(`${file}: the files of a daemon's root are absolute paths`);
    const top = file.split('/')[1] ?? '';
    if (fs.existsSync(`/${top}`)) throw new Error(`${file}: /${top} exists on this machine; the files of a daemon's root must be under a folder it does not have`);
    fs.mkdirSync(path.join(staged, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(staged, file), text, { mode: 0o644 });
  }
  const newRoot = path.join(root, 'root');
  fs.mkdirSync(newRoot);
  return ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', NEW_ROOT, 'sh', newRoot, staged, ...command];
}

export class Daemon {
  readonly root: string;
  readonly programsDir: string;
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #log: string;

  private constructor(root: string, url: string, child: ChildProcess, log: string) {
    this.root = root;
    this.programsDir = path.join(root, 'programs.d');
    this.url = url;
    this.#child = child;
    this.#log = log;
  }

  /** Starts a daemon on a new programs.d holding `programs` (file name → text). */
  static async start(options: { token?: string; programs?: Record<string, string>; args?: string[]; files?: Record<string, string> } = {}): Promise<Daemon> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `hoody-client-${process.pid}-`));
    fs.mkdirSync(path.join(root, 'programs.d'));
    for (const [file, text] of Object.entries(options.programs ?? {})) {
      fs.writeFileSync(path.join(root, 'programs.d', file), text);
    }
    const log = path.join(root, 'daemon.log');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.HOODY_DAEMON_TOKEN;
    if (options.token) env.HOODY_DAEMON_TOKEN = options.token;
    const command = [
      daemonBinary(),
      'serve', '--programs-dir', path.join(root, 'programs.d'), '--state-dir', path.join(root, 'state'), '--log-dir', path.join(root, 'logs'), '--listen', '127.0.0.1:0', ...(options.args ?? []),
    ];
    const [program, ...args] = options.files ? inRootOf(root, options.files, command) : command;
    const child = spawn(program ?? '', args, { env, stdio: ['ignore', 'ignore', fs.openSync(log, 'w')], detached: true });
    const address = path.join(root, 'state', 'api.address');
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    const pending = new Daemon(root, '', child, log);
    running.add(pending);
    try {
      await waitUntil('the daemon to write its address', () => {
        if (exited) throw new Error(`the daemon exited at start:\n${fs.readFileSync(log, 'utf8')}`);
        return fs.existsSync(address) && fs.readFileSync(address, 'utf8').trim() !== '';
      });
    } catch (error) {
      pending.kill();
      throw error;
    }
    running.delete(pending);
    const daemon = new Daemon(root, fs.readFileSync(address, 'utf8').trim(), child, log);
    running.add(daemon);
    return daemon;
  }

  /** The daemon's log, for a failure's message. */
  log(): string {
    try {
      return fs.readFileSync(this.#log, 'utf8').slice(-8000);
    } catch {
      return '';
    }
  }

  /** Stops the daemon gracefully (it stops its programs), then removes its folder. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), DEADLINE);
      });
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome === 'late') this.kill();
    }
    this.kill();
  }

  /** SIGKILL to the daemon's process group if it is still there; removes the folder. */
  kill(): void {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      for (const target of [-child.pid, child.pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    }
    running.delete(this);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
