// `pgwarden creds rotate` against a real cluster that logs every statement
// (log_statement = 'all') and a real Secret Service: the new password never
// reaches the server (only its SCRAM verifier does), never appears in output,
// the old one stops working, and every failure after ALTER ROLE is rolled back
// so the stored password keeps working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createKeychainBackend } from '../../src/creds/keychain-backend.js';
import { writeMetadata } from '../../src/creds/metadata-file.js';
import type { PasswordBackend } from '../../src/creds/password-backend.js';
import { rotateCredentials } from '../../src/creds/rotate.js';
import { CredentialStore } from '../../src/creds/store.js';
import { createPool } from '../../src/pool/pool.js';
import { Secret } from '../../src/redact/secret.js';
import { keyringSkipReason, startKeyring, type TestKeyring } from '../support/keychain.js';
import { assertNoCanary, canary, startCluster, type Cluster } from '../support/index.js';

const skip = keyringSkipReason();
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
let keyring: TestKeyring;
let cluster: Cluster;
let dir: string;
let home: string;
let store: CredentialStore;
const secrets: string[] = [];
const outputs: string[] = [];
const savedBus = process.env.DBUS_SESSION_BUS_ADDRESS;
const adminPassword = canary();

function secret(): string {
  const value = canary();
  secrets.push(value);
  return value;
}

async function canLogin(user: string, password: string): Promise<boolean | string> {
  try {
    const pool = await createPool({
      url: cluster.url({ user, password }),
      env: {},
      enforcePolicy: false,
      checkRole: false,
    });
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM app_data');
    await pool.close();
    return rows[0]?.n === 1;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

async function addEnv(name: string, user: string, password: string): Promise<void> {
  await store.add(
    name,
    { host: '127.0.0.1', port: cluster.port, database: 'postgres', user, sslMode: 'disable' },
    { password: new Secret(password) },
  );
}

function adminOptions(): { url: string } {
  return { url: cluster.url({ user: 'admin', password: adminPassword }) };
}

async function validUntil(role: string): Promise<string | null> {
  const rows = await cluster.adminQuery<{ v: string | null }>(
    "SELECT to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS v FROM pg_roles WHERE rolname = $1",
    [role],
  );
  return rows[0]?.v ?? null;
}

/** Delegates to the real keychain, but writes fail once armed: a store failure after ALTER ROLE. */
function failingKeychain(): PasswordBackend & { armed: boolean } {
  const real = createKeychainBackend();
  return {
    kind: 'keychain',
    armed: false,
    get: (env) => real.get(env),
    async set(env, pw) {
      if (this.armed) throw new Error('injected: keychain write failed');
      await real.set(env, pw);
    },
    delete: (env) => real.delete(env),
  };
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pgw-rotate-'));
  home = join(dir, 'pgwarden');
  [keyring, cluster] = await Promise.all([
    startKeyring(),
    startCluster({ conf: { log_statement: 'all' }, hba: ['host all all 127.0.0.1/32 scram-sha-256'] }),
  ]);
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
  store = new CredentialStore({ home, env: {} });
  await cluster.createRole('admin', { password: adminPassword, attributes: 'LOGIN CREATEROLE' });
  await cluster.adminQuery('CREATE TABLE app_data (id int); INSERT INTO app_data VALUES (1)');
  for (const group of ['app_group', 'svc_group']) {
    await cluster.createRole(group, { attributes: 'NOLOGIN' });
    await cluster.adminQuery(`GRANT SELECT ON app_data TO ${group}`);
  }
});

after(async () => {
  if (skip) return;
  if (savedBus === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
  else process.env.DBUS_SESSION_BUS_ADDRESS = savedBus;
  const log = cluster?.readLog() ?? '';
  await Promise.all([keyring?.stop(), cluster?.stop()]);
  rmSync(dir, { recursive: true, force: true });
  // No plaintext of any test password in the server log nor in any output.
  for (const value of [...secrets, adminPassword]) {
    assertNoCanary(log, value);
    for (const text of outputs) assertNoCanary(text, value);
  }
});

describe('creds rotate (single role)', { skip }, () => {
  test('CLI: the new password is sent as a verifier, is in no log or output; old fails, new works', async () => {
    const old = secret();
    await cluster.createRole('app', { password: old, inRoles: ['app_group'] });
    await addEnv('dev', 'app', old);
    await addEnv('admin', 'admin', adminPassword);
    const logBefore = cluster.readLog().length;
    const result = spawnSync(
      process.execPath,
      [...CLI, 'creds', 'rotate', 'dev', '--admin-env', 'admin', '--json'],
      {
        env: { PATH: process.env.PATH ?? '', HOME: dir, PGWARDEN_HOME: home, ...keyring.env },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    outputs.push(result.stdout, result.stderr);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.rotatedRole, 'app');
    assert.equal(report.scramIterations, 4096);
    const fresh = (await store.password('dev')).reveal();
    secrets.push(fresh);
    assert.notEqual(fresh, old);
    assert.equal(fresh.length, 32);
    for (const text of [result.stdout, result.stderr]) assertNoCanary(text, fresh);

    const log = cluster.readLog().slice(logBefore);
    assert.match(log, /statement: ALTER ROLE "app" PASSWORD 'SCRAM-SHA-256\$4096:[^']+' VALID UNTIL '/);
    assertNoCanary(log, fresh);

    assert.equal(await canLogin('app', old), 'PGW_CONN_AUTH_FAILED');
    assert.equal(await canLogin('app', fresh), true);
    const env = await store.get('dev');
    assert.equal(await validUntil('app'), env.expiresAt?.toISOString().slice(0, 19));
    assert.ok(env.updatedAt && Date.now() - env.updatedAt.getTime() < 60_000);
  });

  test('a role without CREATEROLE rotating itself: VALID UNTIL refused with the fix, or --no-valid-until', async () => {
    const old = secret();
    await cluster.createRole('self_app', { password: old });
    await addEnv('self', 'self_app', old);
    await assert.rejects(rotateCredentials(store, 'self'), (error: Error & { code: string; fix: string }) => {
      assert.equal(error.code, 'PGW_ROLE_INSUFFICIENT_PRIVILEGE');
      assert.match(error.fix, /--no-valid-until/);
      return true;
    });
    assert.equal((await store.password('self')).reveal(), old, 'store unchanged');
    const report = await rotateCredentials(store, 'self', { setValidUntil: false });
    assert.equal(report.validUntil, undefined);
    const fresh = (await store.password('self')).reveal();
    secrets.push(fresh);
    assert.equal(await validUntil('self_app'), null);
    const pool = await createPool({
      url: cluster.url({ user: 'self_app', password: fresh }),
      env: {},
      enforcePolicy: false,
    });
    await pool.close();
  });

  test('a stored password the server rejects is not rotated (PGW_CREDS_CURRENT_INVALID)', async () => {
    await cluster.createRole('drifted', { password: secret() });
    await addEnv('drifted', 'drifted', secret());
    await assert.rejects(rotateCredentials(store, 'drifted', { admin: adminOptions() }), {
      code: 'PGW_CREDS_CURRENT_INVALID',
    });
  });

  test('store write fails after ALTER ROLE: rolled back, the role still accepts the old password', async () => {
    const old = secret();
    await cluster.createRole('fragile', { password: old, inRoles: ['app_group'] });
    const keychain = failingKeychain();
    const failing = new CredentialStore({ home, env: {}, keychain });
    await addEnv('fragile', 'fragile', old);
    const untilBefore = await validUntil('fragile');
    keychain.armed = true;
    await assert.rejects(
      rotateCredentials(failing, 'fragile', { admin: adminOptions() }),
      (error: Error & { code: string }) => {
        assert.equal(error.code, 'PGW_CREDS_ROTATION_FAILED');
        assert.match(
          error.message,
          /while storing the new password; the password and VALID UNTIL of "fragile" were restored/,
        );
        outputs.push(error.message, inspect(error, { depth: 5 }));
        return true;
      },
    );
    assert.equal(await canLogin('fragile', old), true);
    assert.equal((await failing.password('fragile')).reveal(), old);
    assert.equal((await validUntil('fragile')) ?? 'infinity', untilBefore ?? 'infinity');
  });

  test('metadata write fails: the keychain entry and the role are both put back', async () => {
    const old = secret();
    await cluster.createRole('fragile2', { password: old, inRoles: ['app_group'] });
    await addEnv('fragile2', 'fragile2', old);
    let fail = false;
    const failing = new CredentialStore({
      home,
      env: {},
      writeMetadata: (h, envs) => {
        if (fail) throw new Error('injected: metadata write failed');
        writeMetadata(h, envs);
      },
    });
    fail = true;
    // Self-rotation: the rollback runs on the connection that is still logged in.
    await assert.rejects(rotateCredentials(failing, 'fragile2', { setValidUntil: false }), {
      code: 'PGW_CREDS_ROTATION_FAILED',
    });
    assert.equal(await canLogin('fragile2', old), true);
    assert.equal((await store.password('fragile2')).reveal(), old);
  });

  test('new login fails after ALTER ROLE (hook): rolled back', async () => {
    const old = secret();
    await cluster.createRole('hooked', { password: old, inRoles: ['app_group'] });
    await addEnv('hooked', 'hooked', old);
    await assert.rejects(
      rotateCredentials(
        store,
        'hooked',
        { admin: adminOptions() },
        {
          afterAlter: () => {
            throw new Error('injected: network cut');
          },
        },
      ),
      { code: 'PGW_CREDS_ROTATION_FAILED' },
    );
    assert.equal(await canLogin('hooked', old), true);
  });

  test("the server's VALID UNTIL and the stored expiry are one date, however long the rotation takes", async () => {
    const old = secret();
    await cluster.createRole('slow_app', { password: old, inRoles: ['app_group'] });
    await addEnv('slow', 'slow_app', old);
    const report = await rotateCredentials(
      store,
      'slow',
      { admin: adminOptions() },
      // Past a second boundary between ALTER ROLE and writing the store.
      { afterAlter: () => new Promise((resolve) => setTimeout(resolve, 1_100)) },
    );
    const stored = await store.get('slow');
    secrets.push((await store.password('slow')).reveal());
    assert.equal(stored.expiresAt?.toISOString(), report.validUntil?.toISOString());
    assert.equal(await validUntil('slow_app'), stored.expiresAt?.toISOString().slice(0, 19));
  });
});

describe('creds rotate --strategy alternating', { skip }, () => {
  test('creates <user>_clone in the group, switches to it, then alternates back', async () => {
    const old = secret();
    await cluster.createRole('svc', { password: old, inRoles: ['svc_group'] });
    await cluster.adminQuery(`ALTER ROLE svc CONNECTION LIMIT 7`);
    await cluster.adminQuery(`ALTER ROLE svc SET statement_timeout = '5s'`);
    await addEnv('svc', 'svc', old);

    const first = await rotateCredentials(store, 'svc', { strategy: 'alternating', admin: adminOptions() });
    assert.deepEqual(
      [first.rotatedRole, first.user, first.previousUser, first.createdRole],
      ['svc_clone', 'svc_clone', 'svc', true],
    );
    const env = await store.get('svc');
    assert.deepEqual(
      [env.user, env.strategy, env.baseUser, env.groupRole],
      ['svc_clone', 'alternating', 'svc', 'svc_group'],
    );
    const clonePw = (await store.password('svc')).reveal();
    secrets.push(clonePw);
    assert.equal(await canLogin('svc_clone', clonePw), true, 'the clone reads through the group');
    assert.equal(await canLogin('svc', old), true, 'the previous role keeps working until the next rotation');
    const [clone] = await cluster.adminQuery<{ rolconnlimit: number; settings: string[]; login: boolean }>(
      `SELECT rolconnlimit, rolcanlogin AS login,
              (SELECT setconfig FROM pg_db_role_setting WHERE setrole = r.oid AND setdatabase = 0) AS settings
         FROM pg_roles r WHERE rolname = 'svc_clone'`,
    );
    assert.deepEqual(clone, { rolconnlimit: 7, login: true, settings: ['statement_timeout=5s'] });

    const second = await rotateCredentials(store, 'svc', { admin: adminOptions() });
    assert.deepEqual(
      [second.strategy, second.rotatedRole, second.user, second.createdRole],
      ['alternating', 'svc', 'svc', false],
    );
    const svcPw = (await store.password('svc')).reveal();
    secrets.push(svcPw);
    assert.equal(await canLogin('svc', old), 'PGW_CONN_AUTH_FAILED');
    assert.equal(await canLogin('svc', svcPw), true);
    assert.equal(await canLogin('svc_clone', clonePw), true);
  });

  test('a failed first alternating rotation drops the new clone; the store is unchanged', async () => {
    const old = secret();
    await cluster.createRole('svc2', { password: old, inRoles: ['svc_group'] });
    const keychain = failingKeychain();
    const failing = new CredentialStore({ home, env: {}, keychain });
    await addEnv('svc2', 'svc2', old);
    keychain.armed = true;
    await assert.rejects(
      rotateCredentials(failing, 'svc2', { strategy: 'alternating', admin: adminOptions() }),
      (error: Error & { code: string }) => {
        assert.equal(error.code, 'PGW_CREDS_ROTATION_FAILED');
        assert.match(error.message, /"svc2_clone" was dropped again/);
        return true;
      },
    );
    assert.deepEqual(await cluster.adminQuery(`SELECT 1 FROM pg_roles WHERE rolname = 'svc2_clone'`), []);
    assert.equal((await store.get('svc2')).user, 'svc2');
    assert.equal(await canLogin('svc2', old), true);
  });

  test('no group role, or a missing one: coded errors naming --group', async () => {
    const old = secret();
    await cluster.createRole('lonely', { password: old });
    await addEnv('lonely', 'lonely', old);
    await assert.rejects(
      rotateCredentials(store, 'lonely', { strategy: 'alternating', admin: adminOptions() }),
      {
        code: 'PGW_CREDS_INVALID',
        option: '--group',
      },
    );
    await assert.rejects(
      rotateCredentials(store, 'lonely', {
        strategy: 'alternating',
        groupRole: 'nope',
        admin: adminOptions(),
      }),
      { code: 'PGW_ROLE_NOT_FOUND', option: '--group' },
    );
    assert.deepEqual(await cluster.adminQuery(`SELECT 1 FROM pg_roles WHERE rolname = 'lonely_clone'`), []);
  });
});
