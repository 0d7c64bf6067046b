// The keychain backend against a REAL Secret Service: the test starts its own
// D-Bus session bus and gnome-keyring-daemon as child processes (stopped by
// PID at the end), stores an entry as `pgwarden creds` will, and reads it back.
// Skipped, with the reason, when dbus-daemon or gnome-keyring-daemon is absent
// (apt-get install gnome-keyring libsecret-tools dbus).
//
// The bus is `dbus-daemon --session` spawned directly rather than through
// dbus-run-session: dbus-run-session exits without reaping its bus, which
// then lingers as a zombie in containers whose PID 1 does not reap. As direct
// children, both daemons are reaped by this process.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { AsyncEntry } from '@napi-rs/keyring';
import { SecretError } from '../../src/errors.js';
import { serializeKeychainStore } from '../../src/secrets/keychain-store-format.js';
import type { SecretLogger } from '../../src/secrets/logger.js';
import { createProviderFromEnv } from '../../src/secrets/select.js';
import { assertNoCanary, canary, waitForProcessExit } from '../support/index.js';

const REQUIRED = ['dbus-daemon', 'gnome-keyring-daemon'];
const missing = REQUIRED.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skip =
  missing.length > 0 ? `needs ${missing.join(' and ')} (apt-get install gnome-keyring dbus)` : false;

const canaries: string[] = [];
const logLines: string[] = [];
const logger: SecretLogger = {
  log: (level, event, message) => logLines.push(`${level} ${event} ${message}`),
};

let dir: string;
const daemons: ChildProcess[] = [];
let savedBus: string | undefined;

function assertNoLeak(error: unknown): void {
  const e = error as Error;
  const texts = [e.message, String(e), e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 })];
  for (const value of canaries) for (const text of texts) assertNoCanary(text, value);
}

/** Reads a child's stdout until `pattern` matches; rejects after 10 s or when it exits. */
async function readUntil(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const match = pattern.exec(output);
    if (match) return match;
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`${String(child.spawnfile)} did not start`);
    await sleep(20);
  }
}

/** Starts a session bus and an unlocked gnome-keyring on it; resolves with the bus address. */
async function startKeyring(): Promise<string> {
  const home = join(dir, 'home');
  const runtime = join(dir, 'run');
  mkdirSync(home);
  mkdirSync(runtime, { mode: 0o700 });
  const env = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: runtime };
  // A session bus WITHOUT service activation: otherwise the first probe would
  // make the bus start a second, locked gnome-keyring-daemon of its own.
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
  const bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  daemons.push(bus);
  const address = (await readUntil(bus, /^(unix:\S+)\n/m))[1] as string;
  const keyring = spawn('gnome-keyring-daemon', ['--unlock', '--components=secrets', '--foreground'], {
    env: { ...env, DBUS_SESSION_BUS_ADDRESS: address },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  daemons.push(keyring);
  // --unlock reads the new login keyring's password from stdin.
  keyring.stdin?.end(randomBytes(12).toString('hex'));
  keyring.stdout?.resume();
  return address;
}

/** Waits until the Secret Service stores entries (the login keyring exists a moment after the bus name). */
async function waitForSecretService(): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      // Constructing an entry pinned to the Secret Service already talks to it.
      const probe = new AsyncEntry('pgwarden-probe', 'probe', { linux: { store: 'secret-service' } });
      await probe.setPassword('probe');
      await probe.deletePassword();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pgw-keyring-'));
  savedBus = process.env.DBUS_SESSION_BUS_ADDRESS;
  process.env.DBUS_SESSION_BUS_ADDRESS = await startKeyring();
  await waitForSecretService();
});

after(async () => {
  if (skip) return;
  for (const daemon of daemons.reverse()) {
    if (daemon.pid === undefined || daemon.exitCode !== null) continue;
    daemon.kill('SIGTERM');
    if (!(await waitForProcessExit(daemon.pid, 5_000))) daemon.kill('SIGKILL');
  }
  if (savedBus === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
  else process.env.DBUS_SESSION_BUS_ADDRESS = savedBus;
  rmSync(dir, { recursive: true, force: true });
  for (const value of canaries) for (const line of logLines) assertNoCanary(line, value);
});

describe('keychain backend (gnome-keyring over D-Bus)', { skip }, () => {
  test('reads the password from the OS keychain and metadata from credentials.json', async () => {
    const pw = canary();
    canaries.push(pw);
    const home = join(dir, 'pgwarden');
    mkdirSync(home);
    writeFileSync(
      join(home, 'credentials.json'),
      serializeKeychainStore({
        version: 1,
        environments: {
          staging: {
            host: 'staging-db.example.com',
            port: 5432,
            database: 'app',
            user: 'app_staging',
            sslmode: 'verify-full',
          },
        },
      }),
    );
    // What `pgwarden creds set staging` will do.
    const entry = new AsyncEntry('pgwarden', 'staging', { linux: { store: 'secret-service' } });
    await entry.setPassword(pw);
    try {
      const env = {
        SECRETS_BACKEND: 'keychain',
        DB_CREDENTIALS_ENV: 'staging',
        PGWARDEN_HOME: home,
        PGWARDEN_KEYCHAIN_STORE: 'secret-service',
      };
      const provider = createProviderFromEnv(env, { logger });
      const c = await provider.fetch();
      assert.equal(c.password?.reveal(), pw);
      assert.equal(c.user, 'app_staging');
      assert.equal(c.host, 'staging-db.example.com');
      assertNoCanary(JSON.stringify(provider.describe()), pw);

      const absent = createProviderFromEnv({ ...env, DB_CREDENTIALS_ENV: 'production' }, { logger });
      const e = await absent.fetch().catch((error: unknown) => error);
      assert.ok(e instanceof SecretError);
      assert.equal(e.code, 'PGW_SECRET_NOT_FOUND');
      assert.match(e.fix ?? '', /pgwarden creds set production/);
      assertNoLeak(e);
    } finally {
      await entry.deletePassword();
    }
  });

  test("no reachable Secret Service: PGW_SECRET_BACKEND_UNAVAILABLE (Couldn't access platform storage)", () => {
    // The keyring library keeps its D-Bus connection for the life of the
    // process, so the unreachable bus is tried in a fresh process.
    const script = `
      import { createProviderFromEnv } from './src/secrets/select.ts';
      const provider = createProviderFromEnv({
        SECRETS_BACKEND: 'keychain', DB_CREDENTIALS_ENV: 'staging',
        PGWARDEN_HOME: process.env.PGW_TEST_HOME, PGWARDEN_KEYCHAIN_STORE: 'secret-service',
      });
      provider.fetch().then(
        () => console.log(JSON.stringify({ ok: true })),
        (e) => console.log(JSON.stringify({ code: e.code, fix: e.fix, cause: String(e.cause) })),
      );`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'no-such-bus')}`,
        PGW_TEST_HOME: dir,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const answer = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as {
      code?: string;
      fix?: string;
      cause?: string;
    };
    assert.equal(answer.code, 'PGW_SECRET_BACKEND_UNAVAILABLE', result.stdout + result.stderr);
    assert.match(answer.fix ?? '', /Secret Service/);
    assert.match(answer.cause ?? '', /platform/i);
  });
});
