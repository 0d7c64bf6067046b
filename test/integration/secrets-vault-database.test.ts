// The vault-database backend against the local Vault API server, whose
// database engine creates and drops REAL roles on a throwaway PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SecretError } from '../../src/errors.js';
import { Secret } from '../../src/redact/secret.js';
import { CachedCredentials } from '../../src/secrets/cache.js';
import type { SecretLogger } from '../../src/secrets/logger.js';
import type { Credentials } from '../../src/secrets/provider.js';
import { createProviderFromEnv } from '../../src/secrets/select.js';
import { createVaultDatabaseProvider, type VaultDatabaseSettings } from '../../src/secrets/vault-database.js';
import { VaultServer } from '../support/vault-server.js';
import {
  assertErrorHasNoSecret,
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
} from '../support/index.js';

const canaries: string[] = [];
const logLines: string[] = [];
const logger: SecretLogger = {
  log: (level, event, message, fields) =>
    logLines.push(`${level} ${event} ${message} ${JSON.stringify(fields)}`),
};
const onWarning = (warning: Error) => logLines.push(`${warning.name} ${warning.message}`);

function secret(): string {
  const value = canary();
  canaries.push(value);
  return value;
}

const assertNoLeak = (error: unknown): void => assertErrorHasNoSecret(error, canaries);

let cluster: Cluster;
let vault: VaultServer;
let token: string;

function settings(overrides: Partial<VaultDatabaseSettings> = {}): VaultDatabaseSettings {
  return {
    address: vault.address,
    auth: { method: 'token', token: new Secret(token) },
    role: 'app',
    logger,
    ...overrides,
  };
}

function client(c: Credentials): pg.Client {
  return new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: c.user,
    password: c.password?.reveal(),
    database: 'postgres',
    ssl: false,
  });
}

/** Logs in as `c` and returns current_user and the visible rows; throws on failure. */
async function loginAs(c: Credentials): Promise<{ user: string; widgets: number }> {
  const db = client(c);
  await db.connect();
  try {
    const rows = (
      await db.query<{ u: string; n: string }>('SELECT current_user AS u, count(*) AS n FROM widgets')
    ).rows;
    return { user: rows[0]?.u ?? '', widgets: Number(rows[0]?.n) };
  } finally {
    await db.end();
  }
}

async function roleExists(name: string | undefined): Promise<boolean> {
  const rows = await cluster.adminQuery('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  return rows.length > 0;
}

async function dynamicRoles(): Promise<string[]> {
  const rows = await cluster.adminQuery<{ rolname: string }>(
    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%'",
  );
  return rows.map((r) => r.rolname);
}

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

before(async () => {
  process.on('warning', onWarning);
  cluster = await startCluster();
  await cluster.adminQuery(
    'CREATE TABLE widgets (id int PRIMARY KEY); INSERT INTO widgets VALUES (1), (2), (3)',
  );
  vault = await VaultServer.start({
    database: {
      execute: (sql) => cluster.adminQuery(sql),
      password: secret,
      roles: {
        app: { ttlSeconds: 3, maxTtlSeconds: 8, grantStatements: ['GRANT SELECT ON widgets TO "{{name}}"'] },
        fixed: {
          ttlSeconds: 3,
          maxTtlSeconds: 8,
          renewable: false,
          grantStatements: ['GRANT SELECT ON widgets TO "{{name}}"'],
        },
      },
    },
  });
  token = vault.createToken({ ttlSeconds: 0 });
  canaries.push(token);
});

after(async () => {
  await vault?.revokeAllLeases();
  await vault?.stop();
  await cluster?.stop();
  process.off('warning', onWarning);
  for (const value of canaries) for (const line of logLines) assertNoCanary(line, value);
});

describe('vault-database backend (real PostgreSQL roles)', () => {
  test('a dynamic role logs in, is renewed, is rolled before max_ttl, and is dropped after close()', async () => {
    const rotated: Credentials[] = [];
    const provider = createVaultDatabaseProvider(settings({ onRotate: (c) => rotated.push(c) }));
    const cache = new CachedCredentials(provider, { logger });
    const cacheRotations: Array<[string | undefined, string | undefined]> = [];
    cache.on('rotate', (now, previous) => cacheRotations.push([previous.user, now.user]));

    const first = await cache.get();
    const started = Date.now();
    assert.match(first.user ?? '', /^v-app-[0-9a-f]{12}-\d+$/);
    assert.ok(
      first.expiresAt && Math.abs(first.expiresAt.getTime() - (started + 3_000)) < 500,
      'expiresAt is the lease end',
    );
    assert.deepEqual(await loginAs(first), { user: first.user, widgets: 3 });
    const oldSession = client(first);
    await oldSession.connect();
    oldSession.on('error', () => undefined); // terminated when the old lease ends

    // Renewed at ~2/3 of 3 s: the lease end moves forward, the user stays.
    await waitFor('a renewal', () => vault.count('sys/leases/renew') >= 1, 3_000);
    await sleep(100);
    const renewed = await cache.get();
    assert.equal(renewed.user, first.user);
    assert.ok(
      (renewed.expiresAt?.getTime() ?? 0) > (first.expiresAt?.getTime() ?? 0),
      'expiresAt follows the renewal',
    );
    assert.equal(rotated.length, 0, 'no roll while renewals are granted in full');

    // max_ttl 8 s: a renewal answered with less than asked makes the provider roll.
    await waitFor('the roll to a new user', () => rotated.length === 1, 8_000);
    const next = rotated[0] as Credentials;
    const rolledAt = Date.now() - started;
    assert.notEqual(next.user, first.user);
    assert.ok(rolledAt < 8_000, `rolled at ${rolledAt} ms, before the old lease's max_ttl`);
    assert.deepEqual(cacheRotations, [[first.user, next.user]], 'the cache re-emits the rotation');
    assert.equal((await cache.get()).user, next.user, 'new connections get the new user');
    assert.deepEqual(await loginAs(next), { user: next.user, widgets: 3 });
    assert.ok(
      await roleExists(first.user),
      'the old role lives on until its lease ends, so the pool can drain',
    );
    assert.equal((await oldSession.query('SELECT 1 AS one')).rows[0]?.one, 1);

    // Vault drops the old role when its lease reaches max_ttl, ending its sessions.
    await waitFor('the old role to be dropped', async () => !(await roleExists(first.user)), 4_000);
    await assert.rejects(oldSession.query('SELECT 1'));
    await oldSession.end().catch(() => undefined);
    await assert.rejects(loginAs(first), /password authentication failed|does not exist/);

    await cache.close();
    assert.ok(vault.count('sys/leases/revoke') >= 1, 'close() revokes');
    assert.equal(await roleExists(next.user), false, 'the current role is dropped by close()');
    assert.deepEqual(await dynamicRoles(), []);
    assert.ok(logLines.some((l) => l.includes(`switched from ${first.user} to ${next.user}`)));
  });

  test('a lease that is not renewable: PGW_SECRET_LEASE_NOT_RENEWABLE warning, new credentials before expiry', async () => {
    const rotated: Credentials[] = [];
    const provider = createProviderFromEnv(
      {
        SECRETS_BACKEND: 'vault-database',
        VAULT_ADDR: vault.address,
        VAULT_TOKEN: token,
        VAULT_DB_ROLE: 'fixed',
      },
      { logger },
    );
    provider.onRotate?.((c) => rotated.push(c));
    const renewalsBefore = vault.count('sys/leases/renew');
    const first = await provider.fetch();
    assert.ok(
      logLines.some(
        (l) => l.startsWith('warn PGW_SECRET_LEASE_NOT_RENEWABLE') && l.includes('vault-database'),
      ),
    );
    assert.equal((await loginAs(first)).widgets, 3);
    await waitFor('new credentials', () => rotated.length === 1, 3_000);
    assert.ok(
      first.expiresAt && Date.now() < first.expiresAt.getTime(),
      'replaced before the old lease ended',
    );
    assert.equal(vault.count('sys/leases/renew'), renewalsBefore, 'a non-renewable lease is not renewed');
    assert.deepEqual(await loginAs(rotated[0] as Credentials), { user: rotated[0]?.user, widgets: 3 });
    await provider.close?.();
    assert.deepEqual(await dynamicRoles(), [], 'close() revokes every lease it holds, the old one included');
  });

  test('invalidate() makes the next fetch take a new lease', async () => {
    const provider = createVaultDatabaseProvider(settings());
    const first = await provider.fetch();
    assert.equal((await provider.fetch()).user, first.user, 'the lease is reused while valid');
    provider.invalidate?.();
    const second = await provider.fetch();
    assert.notEqual(second.user, first.user);
    await provider.close?.();
    // Only this provider's roles: an earlier test's rolled lease may still be running out.
    const mine = async () =>
      (await dynamicRoles()).filter((name) => name === first.user || name === second.user);
    await waitFor(
      'both leases revoked and their roles dropped',
      async () => (await mine()).length === 0,
      3_000,
    );
    assert.deepEqual(await mine(), []);
  });

  test('unknown role, sealed Vault, connection refused, policy denied: coded errors naming the backend and the fix', async () => {
    const unknown = createVaultDatabaseProvider(settings({ role: 'nope' }));
    const e1 = await unknown.fetch().catch((e: unknown) => e);
    assert.ok(e1 instanceof SecretError);
    assert.equal(e1.code, 'PGW_SECRET_NOT_FOUND');
    assert.equal(e1.option, 'VAULT_DB_ROLE');
    assert.match(e1.message, /"vault-database".*"nope"/);
    await unknown.close?.();

    vault.sealed = true;
    const sealed = createVaultDatabaseProvider(settings());
    const e2 = await sealed.fetch().catch((e: unknown) => e);
    vault.sealed = false;
    assert.ok(e2 instanceof SecretError);
    assert.equal(e2.code, 'PGW_SECRET_VAULT_SEALED');
    await sealed.close?.();

    const down = await VaultServer.start();
    await down.stop();
    const refused = createVaultDatabaseProvider(settings({ address: down.address }));
    const e3 = await refused.fetch().catch((e: unknown) => e);
    assert.ok(e3 instanceof SecretError);
    assert.equal(e3.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
    await refused.close?.();
    const limited = vault.createToken({ allow: ['secret/'] });
    canaries.push(limited);
    const denied = createVaultDatabaseProvider(
      settings({ auth: { method: 'token', token: new Secret(limited) } }),
    );
    const e4 = await denied.fetch().catch((e: unknown) => e);
    assert.ok(e4 instanceof SecretError);
    assert.equal(e4.code, 'PGW_SECRET_ACCESS_DENIED');
    assert.equal(e4.option, 'VAULT_DB_ROLE');
    assert.match(e4.fix ?? '', /path "database\/creds\/app"/);
    await denied.close?.();
    for (const e of [e1, e2, e3, e4]) {
      assert.ok(e.fix, `${e.code} names a fix`);
      assertNoLeak(e);
    }
  });
});
