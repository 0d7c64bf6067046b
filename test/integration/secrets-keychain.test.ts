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
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncEntry } from '@napi-rs/keyring';
import { SecretError } from '../../src/errors.js';
import { serializeKeychainStore } from '../../src/secrets/keychain-store-format.js';
import type { SecretLogger } from '../../src/secrets/logger.js';
import { createProviderFromEnv } from '../../src/secrets/select.js';
import { assertErrorHasNoSecret, assertNoCanary, canary } from '../support/index.js';
import { keyringSkipReason, startKeyring, type TestKeyring } from '../support/keychain.js';

const skip = keyringSkipReason();

const canaries: string[] = [];
const logLines: string[] = [];
const logger: SecretLogger = {
  log: (level, event, message) => logLines.push(`${level} ${event} ${message}`),
};

let dir: string;
let keyring: TestKeyring | undefined;
let savedBus: string | undefined;

const assertNoLeak = (error: unknown): void => assertErrorHasNoSecret(error, canaries);

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pgw-keyring-'));
  savedBus = process.env.DBUS_SESSION_BUS_ADDRESS;
  keyring = await startKeyring();
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
});

after(async () => {
  if (skip) return;
  await keyring?.stop();
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
    // What `pgwarden creds add staging` does.
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
      assert.match(e.fix ?? '', /pgwarden creds add production/);
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
