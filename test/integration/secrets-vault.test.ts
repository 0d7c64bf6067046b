// The vault backend (KV v2) and its auth methods, driven through pgwarden's
// own Vault client against the local Vault API server.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { SecretError } from '../../src/errors.js';
import { Secret } from '../../src/redact/secret.js';
import { CachedCredentials } from '../../src/secrets/cache.js';
import type { SecretLogger } from '../../src/secrets/logger.js';
import { createProviderFromEnv } from '../../src/secrets/select.js';
import { createVaultProvider, type VaultKvSettings } from '../../src/secrets/vault.js';
import { VaultServer } from '../support/vault-server.js';
import { assertErrorHasNoSecret, assertNoCanary, canary, createPki } from '../support/index.js';

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

/** A Vault-shaped token that is also tracked as a canary. */
function track(token: string): string {
  canaries.push(token);
  return token;
}

const assertNoLeak = (error: unknown): void => assertErrorHasNoSecret(error, canaries);

async function failure(promise: Promise<unknown>, backend = 'vault'): Promise<SecretError> {
  const error = await promise.then(
    () => assert.fail('expected a SecretError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SecretError, inspect(error));
  assert.ok(error.message.includes(`"${backend}"`), error.message);
  assert.ok(error.fix, 'every error names a fix');
  assertNoLeak(error);
  return error;
}

let vault: VaultServer;
let dir: string;
let password: string;
let rootToken: string;
let appRoleSecretId: string;
let jwt: string;

function settings(overrides: Partial<VaultKvSettings> = {}): VaultKvSettings {
  return {
    address: vault.address,
    auth: { method: 'token', token: new Secret(rootToken) },
    path: 'secret/takumi/production',
    logger,
    ...overrides,
  };
}

before(async () => {
  process.on('warning', onWarning);
  dir = mkdtempSync(join(tmpdir(), 'pgw-vault-'));
  appRoleSecretId = secret();
  jwt = `eyJhbGciOiJSUzI1NiJ9.${secret()}.signature`;
  vault = await VaultServer.start({
    appRoles: { 'role-app': { secretId: appRoleSecretId, ttlSeconds: 3, maxTtlSeconds: 4 } },
    kubernetesRoles: { takumi: { jwt, ttlSeconds: 3600 } },
  });
  rootToken = track(vault.createToken({ ttlSeconds: 0 }));
  password = secret();
  vault.writeKv('secret', 'takumi/production', {
    DB_PASSWORD: password,
    DB_USER: 'takumi_prod',
    DB_HOST: 'prod-db.example.com',
  });
});

after(async () => {
  await vault.stop();
  rmSync(dir, { recursive: true, force: true });
  process.off('warning', onWarning);
  for (const value of canaries) for (const line of logLines) assertNoCanary(line, value);
});

describe('vault backend (KV v2)', () => {
  test('from the environment: VAULT_ADDR, VAULT_TOKEN, VAULT_PATH, VAULT_NAMESPACE', async () => {
    const provider = createProviderFromEnv(
      {
        SECRETS_BACKEND: 'vault',
        VAULT_ADDR: vault.address,
        VAULT_TOKEN: rootToken,
        VAULT_PATH: 'secret/takumi/production',
        VAULT_NAMESPACE: 'team-a',
      },
      { logger },
    );
    const c = await provider.fetch();
    assert.equal(c.user, 'takumi_prod');
    assert.equal(c.password?.reveal(), password);
    assert.equal(c.host, 'prod-db.example.com');
    assert.equal(c.version, '1');
    const read = vault.requests.filter((r) => r.path === 'secret/data/takumi/production').at(-1);
    assert.equal(read?.method, 'GET');
    assert.equal(read?.namespace, 'team-a');
    assert.equal(read?.hadToken, true);
    const description = provider.describe();
    assert.equal(description.mount, 'secret');
    assert.equal(description.path, 'takumi/production');
    assert.equal(description.tls, false);
    for (const value of canaries) assertNoCanary(JSON.stringify(description), value);
    await provider.close?.();
  });

  test('field names: defaults fall back to password/username; VAULT_FIELD_* override', async () => {
    const pw = secret();
    vault.writeKv('secret', 'rds-style', { username: 'rds_user', password: pw, pw_custom: 'other-value' });
    const defaults = createVaultProvider(settings({ path: 'secret/rds-style' }));
    assert.equal((await defaults.fetch()).user, 'rds_user');
    const custom = createVaultProvider(
      settings({ path: 'secret/rds-style', passwordField: 'pw_custom', userField: 'password' }),
    );
    const c = await custom.fetch();
    assert.equal(c.password?.reveal(), 'other-value');
    assert.equal(c.user, pw);
    await defaults.close?.();
    await custom.close?.();
  });

  test('a new KV version is a rotation; fetchPrevious reads the version before', async () => {
    const first = secret();
    const second = secret();
    vault.writeKv('secret', 'rotating', { DB_PASSWORD: first, DB_USER: 'app' });
    const provider = createVaultProvider(settings({ path: 'secret/rotating' }));
    const cache = new CachedCredentials(provider, { ttlMs: 0, logger });
    const seen: string[] = [];
    cache.on('rotate', (now) => seen.push(now.version ?? ''));
    assert.equal((await cache.get()).password?.reveal(), first);
    assert.equal(await cache.fetchPrevious(), undefined, 'version 1 has no predecessor');
    vault.writeKv('secret', 'rotating', { DB_PASSWORD: second, DB_USER: 'app' });
    assert.equal((await cache.get()).password?.reveal(), second);
    assert.deepEqual(seen, ['2']);
    assert.equal((await cache.fetchPrevious())?.password?.reveal(), first);
    await cache.close();
  });

  test('single flight: 50 concurrent get() make one KV read', async () => {
    const cache = new CachedCredentials(createVaultProvider(settings()), { logger });
    const before = vault.count('secret/data/takumi/production');
    const all = await Promise.all(Array.from({ length: 50 }, () => cache.get()));
    assert.equal(vault.count('secret/data/takumi/production') - before, 1);
    assert.ok(all.every((c) => c.password?.reveal() === password));
    await cache.close();
  });

  test('token renewal at ~2/3 of the TTL; AppRole logs in again when the max TTL caps it', async () => {
    const staticToken = track(vault.createToken({ ttlSeconds: 3, maxTtlSeconds: 60 }));
    const withToken = createVaultProvider(
      settings({ auth: { method: 'token', token: new Secret(staticToken) } }),
    );
    const withAppRole = createVaultProvider(
      settings({ auth: { method: 'approle', roleId: 'role-app', secretId: new Secret(appRoleSecretId) } }),
    );
    const renewBefore = vault.count('auth/token/renew-self');
    await Promise.all([withToken.fetch(), withAppRole.fetch()]);
    assert.equal(vault.count('auth/approle/login'), 1);
    assert.equal(vault.count('auth/token/renew-self'), renewBefore, 'nothing renewed yet');

    // AppRole: ttl 3 s, max 4 s. Renewal at 2 s gets 2 s (capped): log in again at ~3.3 s.
    await sleep(2_400);
    assert.equal(vault.count('auth/token/renew-self') - renewBefore, 2, 'both tokens renewed once at ~2 s');
    await sleep(1_400);
    assert.equal(vault.count('auth/approle/login'), 2, 'AppRole logged in again before its max TTL');
    assert.ok(vault.count('auth/token/revoke-self') >= 1, 'the replaced token was revoked');
    // Both still read after the first tokens' original TTL is over.
    assert.equal((await withToken.fetch()).password?.reveal(), password);
    assert.equal((await withAppRole.fetch()).password?.reveal(), password);
    await withToken.close?.();
    const revokes = vault.count('auth/token/revoke-self');
    await withAppRole.close?.();
    assert.equal(vault.count('auth/token/revoke-self'), revokes + 1, 'close() revokes the AppRole token');
  });

  test('AppRole from the environment (VAULT_ROLE_ID, VAULT_SECRET_ID); a bad secret ID is ACCESS_DENIED', async () => {
    const env = {
      SECRETS_BACKEND: 'vault',
      VAULT_ADDR: vault.address,
      VAULT_PATH: 'secret/takumi/production',
      VAULT_ROLE_ID: 'role-app',
    };
    const good = createProviderFromEnv({ ...env, VAULT_SECRET_ID: appRoleSecretId }, { logger });
    assert.equal((await good.fetch()).user, 'takumi_prod');
    await good.close?.();
    const wrong = secret();
    const bad = createProviderFromEnv({ ...env, VAULT_SECRET_ID: wrong }, { logger });
    const e = await failure(bad.fetch());
    assert.equal(e.code, 'PGW_SECRET_ACCESS_DENIED');
    assert.match(e.fix ?? '', /VAULT_SECRET_ID/);
    await bad.close?.();
  });

  test('Kubernetes auth reads the service account JWT from VAULT_K8S_TOKEN_PATH', async () => {
    const jwtPath = join(dir, 'token');
    writeFileSync(jwtPath, `${jwt}\n`);
    const env = {
      SECRETS_BACKEND: 'vault',
      VAULT_ADDR: vault.address,
      VAULT_PATH: 'secret/takumi/production',
      VAULT_K8S_ROLE: 'takumi',
      VAULT_K8S_TOKEN_PATH: jwtPath,
    };
    const provider = createProviderFromEnv(env, { logger });
    assert.equal((await provider.fetch()).password?.reveal(), password);
    assert.equal(vault.count('auth/kubernetes/login'), 1);
    await provider.close?.();

    writeFileSync(jwtPath, 'eyJhbGciOiJSUzI1NiJ9.other-service-account.sig');
    const wrongAccount = createProviderFromEnv(env, { logger });
    const denied = await failure(wrongAccount.fetch());
    assert.equal(denied.code, 'PGW_SECRET_ACCESS_DENIED');
    assert.match(denied.fix ?? '', /service account/);
    await wrongAccount.close?.();

    const noFile = createProviderFromEnv({ ...env, VAULT_K8S_TOKEN_PATH: join(dir, 'absent') }, { logger });
    const missing = await failure(noFile.fetch());
    assert.equal(missing.code, 'PGW_SECRET_NOT_FOUND');
    assert.equal(missing.option, 'VAULT_K8S_TOKEN_PATH');
  });

  test('Vault sealed (503): PGW_SECRET_VAULT_SEALED; the cache serves stale within the grace', async () => {
    const provider = createVaultProvider(settings());
    const cache = new CachedCredentials(provider, { ttlMs: 1, refreshWindow: [1, 1], logger });
    await cache.get();
    vault.sealed = true;
    try {
      const e = await failure(createVaultProvider(settings()).fetch());
      assert.equal(e.code, 'PGW_SECRET_VAULT_SEALED');
      assert.match(e.fix ?? '', /unseal/);
      await sleep(5);
      assert.equal((await cache.get()).password?.reveal(), password);
      assert.ok(
        logLines.some((l) => l.startsWith('warn PGW_SECRET_STALE') && l.includes('PGW_SECRET_VAULT_SEALED')),
      );
    } finally {
      vault.sealed = false;
      await cache.close();
    }
  });

  test('expired or revoked token (403): PGW_SECRET_TOKEN_EXPIRED naming VAULT_TOKEN', async () => {
    const shortLived = track(vault.createToken({ ttlSeconds: 1, renewable: false }));
    const provider = createVaultProvider(
      settings({ auth: { method: 'token', token: new Secret(shortLived) } }),
    );
    assert.equal((await provider.fetch()).password?.reveal(), password);
    assert.ok(
      logLines.some((l) => l.includes('VAULT_TOKEN is not renewable')),
      'the coming expiry is announced',
    );
    await sleep(1_100);
    const expired = await failure(provider.fetch());
    assert.equal(expired.code, 'PGW_SECRET_TOKEN_EXPIRED');
    assert.equal(expired.option, 'VAULT_TOKEN');
    assert.match(expired.fix ?? '', /AppRole|Kubernetes/);
    await provider.close?.();

    const revoked = track(vault.createToken());
    vault.revokeToken(revoked);
    const e = await failure(
      createVaultProvider(settings({ auth: { method: 'token', token: new Secret(revoked) } })).fetch(),
    );
    assert.equal(e.code, 'PGW_SECRET_TOKEN_EXPIRED');
  });

  test('a live token whose policy denies the path (403): PGW_SECRET_ACCESS_DENIED naming both fixes', async () => {
    const limited = track(vault.createToken({ allow: ['secret/data/other'] }));
    const e = await failure(
      createVaultProvider(settings({ auth: { method: 'token', token: new Secret(limited) } })).fetch(),
    );
    assert.equal(e.code, 'PGW_SECRET_ACCESS_DENIED');
    assert.match(e.message, /secret\/data\/takumi\/production/);
    assert.match(e.fix ?? '', /capabilities = \["read"\]/);
    assert.match(e.fix ?? '', /revoked/);
  });

  test('missing path, deleted version, missing field', async () => {
    const missing = await failure(createVaultProvider(settings({ path: 'secret/takumi/nope' })).fetch());
    assert.equal(missing.code, 'PGW_SECRET_NOT_FOUND');
    assert.equal(missing.option, 'VAULT_PATH');

    vault.writeKv('secret', 'deleted', { DB_PASSWORD: secret() });
    await fetch(`${vault.address}/v1/secret/data/deleted`, {
      method: 'DELETE',
      headers: { 'X-Vault-Token': rootToken },
    });
    const deleted = await failure(createVaultProvider(settings({ path: 'secret/deleted' })).fetch());
    assert.equal(deleted.code, 'PGW_SECRET_NOT_FOUND');

    vault.writeKv('secret', 'nopassword', { DB_USER: 'app', DB_PASS: secret() });
    const field = await failure(createVaultProvider(settings({ path: 'secret/nopassword' })).fetch());
    assert.equal(field.code, 'PGW_SECRET_FIELD_MISSING');
    assert.match(field.message, /"DB_PASSWORD" or "password"/);
    assert.match(field.message, /"DB_PASS"/);
  });

  test('connection refused: PGW_SECRET_BACKEND_UNAVAILABLE naming VAULT_ADDR', async () => {
    const down = await VaultServer.start();
    await down.stop();
    const e = await failure(createVaultProvider(settings({ address: down.address })).fetch());
    assert.equal(e.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
    assert.equal(e.option, 'VAULT_ADDR');
    assert.match(e.message, /ECONNREFUSED/);
  });

  test('TLS: VAULT_CACERT makes the certificate trusted; without it, PGW_SECRET_CONFIG naming VAULT_CACERT', async () => {
    const pki = await createPki();
    const tlsVault = await VaultServer.start({ tls: { key: pki.server.keyPem, cert: pki.server.certPem } });
    try {
      const token = track(tlsVault.createToken());
      tlsVault.writeKv('secret', 'app', { DB_PASSWORD: password });
      const caFile = join(dir, 'vault-ca.pem');
      writeFileSync(caFile, pki.ca.certPem);
      const env = {
        SECRETS_BACKEND: 'vault',
        VAULT_ADDR: tlsVault.address,
        VAULT_TOKEN: token,
        VAULT_PATH: 'secret/app',
      };
      const trusted = createProviderFromEnv({ ...env, VAULT_CACERT: caFile }, { logger });
      assert.equal((await trusted.fetch()).password?.reveal(), password);
      assert.equal(trusted.describe().tls, true);
      await trusted.close?.();

      const untrusted = createProviderFromEnv(env, { logger });
      const e = await failure(untrusted.fetch());
      assert.equal(e.code, 'PGW_SECRET_CONFIG');
      assert.equal(e.option, 'VAULT_CACERT');
      await untrusted.close?.();

      const unreadable = createProviderFromEnv({ ...env, VAULT_CACERT: join(dir, 'absent.pem') }, { logger });
      assert.equal((await failure(unreadable.fetch())).option, 'VAULT_CACERT');
    } finally {
      await tlsVault.stop();
    }
  });

  test('the test server answers like Vault: 403 without a token, 503 when sealed, 404 for no route', async () => {
    const noToken = await fetch(`${vault.address}/v1/secret/data/takumi/production`);
    assert.equal(noToken.status, 403);
    assert.deepEqual(await noToken.json(), { errors: ['permission denied'] });
    vault.sealed = true;
    const sealed = await fetch(`${vault.address}/v1/secret/data/takumi/production`, {
      headers: { 'X-Vault-Token': rootToken },
    });
    assert.equal(sealed.status, 503);
    assert.deepEqual(await sealed.json(), { errors: ['Vault is sealed'] });
    const status = (await (await fetch(`${vault.address}/v1/sys/seal-status`)).json()) as { sealed: boolean };
    assert.equal(status.sealed, true);
    vault.sealed = false;
    const route = await fetch(`${vault.address}/v1/nothing/here`, {
      headers: { 'X-Vault-Token': rootToken },
    });
    assert.equal(route.status, 404);
  });
});
