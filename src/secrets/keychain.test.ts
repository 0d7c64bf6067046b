import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import { SecretError } from '../errors.js';
import { createKeychainProvider, keychainSettingsFromEnv, type KeychainEntry } from './keychain.js';

let home: string;
before(() => {
  home = mkdtempSync(join(tmpdir(), 'pgw-keychain-'));
});
after(() => rmSync(home, { recursive: true, force: true }));

/** An entry that answers `password` or throws `error`, as @napi-rs/keyring does. */
function fakeEntry(result: { password?: string | null; error?: string }): () => KeychainEntry {
  return () => ({
    getPassword: async () => {
      if (result.error !== undefined)
        throw Object.assign(new Error(result.error), { code: 'GenericFailure' });
      return result.password ?? null;
    },
  });
}

function assertNoLeak(secret: string, error: unknown): void {
  const e = error as Error;
  for (const text of [e.message, String(e), e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 })]) {
    assertNoCanary(text, secret);
  }
}

describe('keychain provider', () => {
  test('password from the keychain, metadata from credentials.json', async () => {
    const pw = canary();
    writeFileSync(
      join(home, 'credentials.json'),
      JSON.stringify({
        version: 1,
        environments: {
          prod: {
            host: 'db.example.com',
            port: 5433,
            database: 'app',
            user: 'app_user',
            sslmode: 'verify-full',
            updated_at: '2025-01-31T10:00:00Z',
            expires_at: new Date(Date.now() + 86_400_000).toISOString(),
          },
        },
      }),
    );
    const asked: string[] = [];
    const provider = createKeychainProvider({
      environment: 'prod',
      home,
      openEntry: (service, account) => {
        asked.push(`${service}/${account}`);
        return fakeEntry({ password: pw })();
      },
    });
    const c = await provider.fetch();
    assert.deepEqual(asked, ['pgwarden/prod']);
    assert.equal(c.password?.reveal(), pw);
    assert.equal(c.user, 'app_user');
    assert.equal(c.host, 'db.example.com');
    assert.equal(c.port, 5433);
    assert.equal(c.database, 'app');
    assert.equal(c.version, '2025-01-31T10:00:00Z');
    assert.ok(c.expiresAt && c.expiresAt.getTime() > Date.now());
    assert.equal(provider.describe().sslmode, 'verify-full');
    assertNoCanary(JSON.stringify(provider.describe()), pw);
  });

  test('works without credentials.json; a passed rotation date warns once', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'pgw-keychain-empty-'));
    try {
      const c = await createKeychainProvider({
        environment: 'dev',
        home: empty,
        openEntry: fakeEntry({ password: 'p-aaaa' }),
      }).fetch();
      assert.equal(c.user, undefined);
      writeFileSync(
        join(empty, 'credentials.json'),
        JSON.stringify({ version: 1, environments: { dev: { expires_at: '2020-01-01T00:00:00Z' } } }),
      );
      const lines: string[] = [];
      const provider = createKeychainProvider({
        environment: 'dev',
        home: empty,
        openEntry: fakeEntry({ password: 'p-aaaa' }),
        logger: { log: (_l, _e, m) => lines.push(m) },
      });
      const expired = await provider.fetch();
      await provider.fetch();
      assert.equal(expired.expiresAt, undefined);
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', /rotation date.*pgwarden creds rotate dev/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('keyring failures map to coded errors with fixes', async () => {
    const cases: Array<[Parameters<typeof fakeEntry>[0], string, RegExp]> = [
      [{ password: null }, 'PGW_SECRET_NOT_FOUND', /pgwarden creds add prod/],
      [
        { error: 'No matching entry found in secure storage' },
        'PGW_SECRET_NOT_FOUND',
        /pgwarden creds add prod/,
      ],
      [
        { error: "Couldn't access platform storage: AccessDenied" },
        'PGW_SECRET_BACKEND_UNAVAILABLE',
        /D-Bus|headless/,
      ],
      [
        { error: 'Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled' },
        'PGW_SECRET_BACKEND_UNAVAILABLE',
        /Secret Service/,
      ],
      [
        { error: 'Platform failure: the unlock prompt was dismissed' },
        'PGW_SECRET_ACCESS_DENIED',
        /[Uu]nlock/,
      ],
      [{ error: 'Ambiguous: entry is matched by 2 credentials' }, 'PGW_SECRET_MALFORMED', /duplicates/],
      [{ error: 'something else' }, 'PGW_SECRET_BACKEND_UNAVAILABLE', /secret-tool/],
    ];
    for (const [result, code, fix] of cases) {
      const error = await createKeychainProvider({ environment: 'prod', home, openEntry: fakeEntry(result) })
        .fetch()
        .catch((e: unknown) => e);
      assert.ok(error instanceof SecretError, inspect(result));
      assert.equal(error.code, code, inspect(result));
      assert.match(error.fix ?? '', fix);
      assert.match(error.message, /"keychain"/);
    }
  });

  test('a credentials.json holding a password is refused without echoing it', async () => {
    const pw = canary();
    const dir = mkdtempSync(join(tmpdir(), 'pgw-keychain-bad-'));
    try {
      writeFileSync(
        join(dir, 'credentials.json'),
        JSON.stringify({ version: 1, environments: { prod: { password: pw } } }),
      );
      const error = await createKeychainProvider({
        environment: 'prod',
        home: dir,
        openEntry: fakeEntry({ password: 'x' }),
      })
        .fetch()
        .catch((e: unknown) => e);
      assert.ok(error instanceof SecretError);
      assert.equal(error.code, 'PGW_SECRET_MALFORMED');
      assertNoLeak(pw, error);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('settings from DB_PROFILE, PGWARDEN_HOME, PGWARDEN_KEYCHAIN_STORE', () => {
    const lines: string[] = [];
    const logger = {
      log: (_level: string, event: string, message: string) => lines.push(`${event} ${message}`),
    };
    const settings = keychainSettingsFromEnv(
      { DB_PROFILE: 'staging', PGWARDEN_HOME: '/srv/pgw', PGWARDEN_KEYCHAIN_STORE: 'secret-service' },
      logger,
    );
    assert.deepEqual(settings, { environment: 'staging', home: '/srv/pgw', linuxStore: 'secret-service' });
    assert.deepEqual(lines, [], 'no warning for the current spelling');
    assert.throws(
      () => keychainSettingsFromEnv({ DB_PROFILE: 'x', PGWARDEN_KEYCHAIN_STORE: 'file' }, logger),
      {
        code: 'PGW_SECRET_CONFIG',
        option: 'PGWARDEN_KEYCHAIN_STORE',
      },
    );
  });

  test('DB_CREDENTIALS_ENV still works, with one deprecation warning naming DB_PROFILE; both and different is a conflict', () => {
    const lines: string[] = [];
    const logger = {
      log: (_level: string, event: string, message: string) => lines.push(`${event} ${message}`),
    };
    const settings = keychainSettingsFromEnv(
      { DB_CREDENTIALS_ENV: 'staging', PGWARDEN_HOME: '/srv/pgw' },
      logger,
    );
    assert.equal(settings.environment, 'staging');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^PGW_CONFIG_DEPRECATED .*DB_CREDENTIALS_ENV is deprecated: set DB_PROFILE/);
    lines.length = 0;
    assert.equal(
      keychainSettingsFromEnv({ DB_PROFILE: 'a', DB_CREDENTIALS_ENV: 'a' }, logger).environment,
      'a',
    );
    assert.equal(lines.length, 1);
    assert.throws(() => keychainSettingsFromEnv({ DB_PROFILE: 'a', DB_CREDENTIALS_ENV: 'b' }, logger), {
      code: 'PGW_CONFIG_CONFLICT',
      option: 'DB_PROFILE',
    });
  });
});
