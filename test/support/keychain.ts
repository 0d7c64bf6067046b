/**
 * A real Secret Service for a test: a private D-Bus session bus and an
 * unlocked gnome-keyring-daemon, both child processes of the test (stopped by
 * PID in `stop()`), with HOME and XDG_RUNTIME_DIR in a temporary directory.
 * Anything given `keyring.env` (the CLI as a child process, or this process
 * via `process.env`) then stores entries through `@napi-rs/keyring`.
 *
 * This is the measured recipe (`dbus-run-session` + `gnome-keyring-daemon
 * --unlock --components=secrets`) with the two daemons run directly instead
 * of through dbus-run-session and --daemonize: as our own children they can
 * be stopped by PID and are reaped by this process (dbus-run-session leaves
 * its bus to PID 1, which in some containers never reaps it). The bus has no
 * service activation, so nothing can start a second, locked keyring behind
 * our back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitForProcessExit } from './process.js';

const REQUIRED = ['dbus-daemon', 'gnome-keyring-daemon'] as const;

/** Why a real keyring cannot run here (missing binaries), or false. */
export function keyringSkipReason(): string | false {
  const missing = REQUIRED.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  return missing.length > 0 ? `needs ${missing.join(' and ')} (apt-get install gnome-keyring dbus)` : false;
}

export interface TestKeyring {
  /** Variables that point a process at this keyring. */
  readonly env: { DBUS_SESSION_BUS_ADDRESS: string; XDG_RUNTIME_DIR: string };
  readonly pids: readonly number[];
  /** Stops both daemons by PID and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

async function readUntil(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const match = pattern.exec(output);
    if (match) return match;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not start`);
    await sleep(20);
  }
}

/** Starts the bus and the keyring and waits until the Secret Service answers. */
export async function startKeyring(options: { locked?: boolean } = {}): Promise<TestKeyring> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-keyring-'));
  const home = join(dir, 'home');
  const runtime = join(dir, 'run');
  mkdirSync(home);
  mkdirSync(runtime, { mode: 0o700 });
  const baseEnv = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: runtime };
  const config = join(dir, 'session.conf');
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
  "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${runtime}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const children: ChildProcess[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const child of [...children].reverse()) {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
        child.kill('SIGTERM');
        if (!(await waitForProcessExit(child.pid, 5_000))) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    const bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], {
      env: baseEnv,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(bus);
    const address = (await readUntil(bus, /^(unix:\S+)\n/m, 'dbus-daemon'))[1] as string;
    const env = { DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: runtime };
    const startDaemon = (unlock: boolean): ChildProcess => {
      const args = unlock
        ? ['--unlock', '--components=secrets', '--foreground']
        : ['--components=secrets', '--foreground'];
      const daemon = spawn('gnome-keyring-daemon', args, {
        env: { ...baseEnv, DBUS_SESSION_BUS_ADDRESS: address },
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      children.push(daemon);
      // --unlock reads the new login keyring's password from stdin.
      daemon.stdin?.end(unlock ? randomBytes(12).toString('hex') : '');
      daemon.stdout?.resume();
      return daemon;
    };
    const first = startDaemon(true);
    await waitForSecretService(env, false);
    if (options.locked) {
      // The login keyring now exists on disk with a password; a daemon started
      // without --unlock finds it locked and has no prompter to unlock it.
      first.kill('SIGTERM');
      await waitForProcessExit(first.pid as number, 5_000);
      startDaemon(false);
      await waitForSecretService(env, true);
    }
    return { env, pids: children.map((c) => c.pid as number), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The login keyring exists a moment after the bus name appears: probe with a real write. */
async function waitForSecretService(env: Record<string, string>, locked: boolean): Promise<void> {
  const probe = `
    const { AsyncEntry } = await import('@napi-rs/keyring');
    const e = new AsyncEntry('pgwarden-probe', 'probe', { linux: { store: 'secret-service' } });
    await e.setPassword('probe'); await e.deletePassword();`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (result.status === 0 && !locked) return;
    // A locked keyring answers, but refuses: that is the state wanted.
    if (locked && /dismissed|locked|prompt/i.test(result.stderr)) return;
    if (Date.now() > deadline)
      throw new Error(`the Secret Service did not answer: ${result.stderr.slice(-500)}`);
    await sleep(100);
  }
}
