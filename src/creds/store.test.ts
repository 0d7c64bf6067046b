import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import { Secret } from '../redact/secret.js';
import { storePassphraseFromEnv } from '../secrets/encrypted-store-reader.js';
import { createKeychainProvider } from '../secrets/keychain.js';
import type { PasswordBackend } from './password-backend.js';
import { CredentialStore } from './store.js';

/** An in-memory password backend; `failSet` makes writes fail, as a broken keychain would. */
function memoryBackend(): PasswordBackend & { map: Map<string, Secret>; failSet: boolean } {
  const map = new Map<string, Secret>();
  return {
    kind: 'keychain',
    map,
    failSet: false,
    async get(env) {
      return map.get(env);
    },
    async set(env, password) {
      if (this.failSet) throw new Error('injected keychain failure');
      map.set(env, password);
    },
    async delete(env) {
      return map.delete(env);
    },
  };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-creds-store-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function fresh(name: string, now = () => new Date('2025-01-01T00:00:00Z')) {
  const keychain = memoryBackend();
  const home = join(dir, name);
  return { home, keychain, store: new CredentialStore({ home, keychain, now, env: {} }) };
}

describe('CredentialStore', () => {
  test('add writes metadata the keychain provider reads; the password only to the backend', async () => {
    const pw = canary();
    const { home, keychain, store } = fresh('add');
    const env = await store.add(
      'prod',
      {
        host: 'db.example.com',
        port: 5433,
        database: 'app',
        user: 'app_user',
        sslMode: 'verify-full',
        production: true,
      },
      { password: new Secret(pw) },
    );
    assert.equal(env.expiresAt?.toISOString(), '2025-04-01T00:00:00.000Z');
    assert.equal(env.expiresDays, 90);
    const text = readFileSync(join(home, 'credentials.json'), 'utf8');
    assertNoCanary(text, pw);
    assert.equal(statSync(join(home, 'credentials.json')).mode & 0o777, 0o600);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(keychain.map.get('prod')?.reveal(), pw);
    // The provider of src/secrets reads what we wrote (same format, same service/account).
    const provider = createKeychainProvider({
      environment: 'prod',
      home,
      openEntry: (service, account) => ({
        getPassword: async () =>
          service === 'pgwarden' ? (keychain.map.get(account)?.reveal() ?? null) : null,
      }),
      logger: { log: () => undefined },
    });
    const creds = await provider.fetch();
    assert.equal(creds.password?.reveal(), pw);
    assert.deepEqual(
      [creds.user, creds.host, creds.port, creds.database],
      ['app_user', 'db.example.com', 5433, 'app'],
    );
    assert.equal(provider.describe().sslmode, 'verify-full');
  });

  test('add refuses an existing name, a bad name, a bad port, with coded errors', async () => {
    const { store } = fresh('bad');
    await store.add('dev', { host: 'h', user: 'u' }, { password: new Secret('x'.repeat(20)) });
    await assert.rejects(store.add('dev', {}, { password: new Secret('y'.repeat(20)) }), {
      code: 'PGW_CREDS_ENV_EXISTS',
    });
    await assert.rejects(store.add('../etc', {}, { password: new Secret('y'.repeat(20)) }), {
      code: 'PGW_CREDS_INVALID',
      option: '<env>',
    });
    await assert.rejects(store.add('p2', { port: 70000 }, { password: new Secret('y'.repeat(20)) }), {
      code: 'PGW_CREDS_INVALID',
      option: '--port',
    });
    await assert.rejects(store.get('dve'), (error: Error & { code: string; fix: string }) => {
      assert.equal(error.code, 'PGW_CREDS_UNKNOWN_ENV');
      assert.match(error.fix, /Did you mean "dev"/);
      return true;
    });
  });

  test('--expires-days 0 turns expiry off; update with a password restarts the period', async () => {
    let now = new Date('2025-01-01T00:00:00Z');
    const { store } = fresh('expiry', () => now);
    const off = await store.add(
      'local',
      { user: 'u' },
      { password: new Secret('a'.repeat(20)), expiresDays: 0 },
    );
    assert.equal(off.expiresAt, undefined);
    await store.add('ci', { user: 'u' }, { password: new Secret('a'.repeat(20)), expiresDays: 30 });
    now = new Date('2025-01-20T00:00:00Z');
    const moved = await store.update('ci', { port: 6543 });
    assert.equal(
      moved.expiresAt?.toISOString(),
      '2025-01-31T00:00:00.000Z',
      'metadata change keeps the expiry',
    );
    const renewed = await store.update('ci', {}, { password: new Secret('b'.repeat(20)) });
    assert.equal(renewed.expiresAt?.toISOString(), '2025-02-19T00:00:00.000Z');
    assert.equal(renewed.port, 6543);
    await assert.rejects(store.update('ci', {}, { expiresDays: -1 }), {
      code: 'PGW_CREDS_INVALID',
      option: '--expires-days',
    });
  });

  test('a failed metadata write puts the previous password back', async () => {
    const keychain = memoryBackend();
    let failWrites = false;
    const { writeMetadata } = await import('./metadata-file.js');
    const store = new CredentialStore({
      home: join(dir, 'rollback'),
      keychain,
      env: {},
      writeMetadata: (home, environments) => {
        if (failWrites) throw new Error('injected: disk full');
        writeMetadata(home, environments);
      },
    });
    await store.add('dev', { user: 'u' }, { password: new Secret('old-password-123456') });
    failWrites = true;
    await assert.rejects(
      store.update('dev', {}, { password: new Secret('new-password-123456') }),
      /disk full/,
    );
    assert.equal(keychain.map.get('dev')?.reveal(), 'old-password-123456');
    await assert.rejects(
      store.add('new', { user: 'u' }, { password: new Secret('other-password-123') }),
      /disk full/,
    );
    assert.equal(keychain.map.has('new'), false, 'the password of a failed add is deleted again');
  });

  test('a failed keychain write leaves metadata untouched', async () => {
    const { home, keychain, store } = fresh('keychain-fail');
    keychain.failSet = true;
    const pw = canary();
    await assert.rejects(
      store.add('dev', { user: 'u' }, { password: new Secret(pw) }),
      (error: Error & { code: string }) => {
        assert.equal(error.code, 'PGW_CREDS_STORE_WRITE_FAILED');
        assertNoCanary(`${error.message} ${inspect(error)}`, pw);
        return true;
      },
    );
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.has('dev'), false);
    assert.throws(() => statSync(join(home, 'credentials.json')));
  });

  test('password of an environment without an entry, and remove', async () => {
    const { keychain, store } = fresh('remove');
    await store.add('dev', { user: 'u' }, { password: new Secret('p'.repeat(20)) });
    keychain.map.delete('dev');
    await assert.rejects(store.password('dev'), { code: 'PGW_CREDS_STORE_UNAVAILABLE' });
    assert.deepEqual(await store.remove('dev'), { passwordDeleted: false });
    assert.deepEqual(await store.list(), []);
  });

  test('a hand-written password in credentials.json is refused', async () => {
    const { home, store } = fresh('handwritten');
    await store.add('dev', { user: 'u' }, { password: new Secret('p'.repeat(20)) });
    const file = join(home, 'credentials.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.environments.dev.password = 'oops';
    writeFileSync(file, JSON.stringify(json));
    await assert.rejects(store.list(), { code: 'PGW_CREDS_METADATA_INVALID' });
  });

  test('PGWARDEN_KEYCHAIN_STORE must be a known store', () => {
    assert.throws(() => new CredentialStore({ env: { PGWARDEN_KEYCHAIN_STORE: 'file' } }), {
      code: 'PGW_CREDS_INVALID',
      option: 'PGWARDEN_KEYCHAIN_STORE',
    });
  });
});

test('__proto__, constructor and other Object.prototype names are unknown environments (issue 12, item 13)', async () => {
  const { home, store } = fresh('proto');
  await store.add('prod', { host: 'db' }, { password: new Secret(canary()) });
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    await assert.rejects(store.get(name), { code: 'PGW_CREDS_UNKNOWN_ENV' }, name);
    await assert.rejects(store.password(name), { code: 'PGW_CREDS_UNKNOWN_ENV' }, name);
    assert.equal(await store.has(name), false, name);
  }
  // The keychain provider reading the same credentials.json finds no metadata for them either.
  const provider = createKeychainProvider({
    environment: 'constructor',
    home,
    openEntry: () => ({ getPassword: async () => 'y'.repeat(24) }),
  });
  const credentials = await provider.fetch();
  assert.equal(credentials.host, undefined);
  assert.equal(provider.describe().host, undefined);
  // "constructor" is a valid name: it can be added and is then found.
  await store.add('constructor', { host: 'db2' }, { password: new Secret(canary()) });
  assert.equal((await store.get('constructor')).host, 'db2');
});

test('the encrypted file opens with PGWARDEN_STORE_PASSPHRASE_FILE (preferred, 0600 only) as the application reads it', async () => {
  const home = join(dir, 'passphrase-file');
  const phrase = canary();
  const pw = canary();
  const file = join(dir, 'store-passphrase');
  writeFileSync(file, `${phrase}\n`, { mode: 0o600 });
  const fields = {
    host: 'db.example.com',
    port: 5432,
    database: 'app',
    user: 'app',
    sslMode: 'verify-full' as const,
  };
  // The file wins over the variable, as in the application's reader.
  const store = new CredentialStore({
    home,
    env: { PGWARDEN_STORE_PASSPHRASE_FILE: file, PGWARDEN_STORE_PASSPHRASE: canary() },
  });
  await store.add('prod', fields, { password: new Secret(pw), store: 'file' });
  // The same passphrase, given as the variable, opens what was written with the file.
  const byValue = new CredentialStore({ home, env: { PGWARDEN_STORE_PASSPHRASE: phrase } });
  assert.equal((await byValue.password('prod')).reveal(), pw);
  // And the application's keychain provider reads it through the file too.
  const provider = createKeychainProvider({
    environment: 'prod',
    home,
    storePassphrase: storePassphraseFromEnv({ PGWARDEN_STORE_PASSPHRASE_FILE: file }),
    logger: { log: () => undefined },
  });
  assert.equal((await provider.fetch()).password?.reveal(), pw);

  chmodSync(file, 0o640);
  const loose = new CredentialStore({ home, env: { PGWARDEN_STORE_PASSPHRASE_FILE: file } });
  await assert.rejects(loose.password('prod'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PGW_SECRET_FILE_PERMISSIONS');
    assertNoCanary(`${error.message} ${error.stack}`, phrase);
    return true;
  });
  const none = new CredentialStore({ home, env: {} });
  await assert.rejects(none.password('prod'), {
    code: 'PGW_CREDS_STORE_LOCKED',
    option: 'PGWARDEN_STORE_PASSPHRASE_FILE',
  });

  // promptPassphrase (the CLI's terminal prompt) is asked only when neither variable is set.
  const asked: boolean[] = [];
  const prompt = ({ creating }: { creating: boolean }) => {
    asked.push(creating);
    return new Secret(phrase);
  };
  const prompted = new CredentialStore({ home, env: {}, promptPassphrase: prompt });
  assert.equal((await prompted.password('prod')).reveal(), pw);
  assert.deepEqual(asked, [false]);
  const fromEnv = new CredentialStore({
    home,
    env: { PGWARDEN_STORE_PASSPHRASE: phrase },
    promptPassphrase: prompt,
  });
  assert.equal((await fromEnv.password('prod')).reveal(), pw);
  assert.deepEqual(asked, [false], 'the environment wins over the prompt');
});
