import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from './resolve.js';
import { evaluateConfigPolicy, evaluateRolePolicy } from './policy.js';
import { Secret } from '../redact/secret.js';

const codes = (env: Record<string, string>, extra: object = {}) =>
  evaluateConfigPolicy(resolveConfig({ env, environment: 'development', ...extra }).config).map(
    (v) => v.code,
  );

test('TLS rules', () => {
  assert.deepEqual(codes({ DB_SSL: 'false', DB_PASSWORD: 'Xk2#pq9!Lm4$wz8&Rt' }), [
    'PGW_POLICY_TLS_DISABLED',
  ]);
  assert.deepEqual(codes({ PGSSLMODE: 'prefer' }), ['PGW_POLICY_TLS_DISABLED']);
  assert.deepEqual(codes({ DB_SSL: 'true', DB_SSL_REJECT_UNAUTHORIZED: 'false' }), [
    'PGW_POLICY_CERT_VALIDATION_DISABLED',
  ]);
  assert.deepEqual(codes({ DB_SSL: 'true' }), []);
  assert.deepEqual(codes({ DB_SSL: 'true', PGSSLMINPROTOCOLVERSION: 'TLSv1.1' }), [
    'PGW_POLICY_TLS_MIN_VERSION',
  ]);
});

test('password rules: weak, common, user name, strict profile', () => {
  assert.deepEqual(codes({ DB_SSL: 'true', DB_PASSWORD: 'short' }), ['PGW_POLICY_WEAK_PASSWORD']);
  assert.deepEqual(codes({ DB_SSL: 'true', DB_PASSWORD: 'your_secure_database_password' }), [
    'PGW_POLICY_WEAK_PASSWORD',
  ]);
  assert.deepEqual(codes({ DB_SSL: 'true', DB_USER: 'appuser', DB_PASSWORD: 'appuser-appuser-appuser' }), [
    'PGW_POLICY_WEAK_PASSWORD',
  ]);
  assert.deepEqual(codes({ DB_SSL: 'true', DB_PASSWORD: 'Xk2#pq9!Lm4$wz8&Rt' }), []);
  assert.deepEqual(codes({ DB_SSL: 'true', DB_PASSWORD: 'Xk2#pq9!Lm4$wz8&Rt', DB_POLICY: 'strict' }), [
    'PGW_POLICY_PASSWORD_PLAINTEXT_ENV',
  ]);
  assert.deepEqual(
    codes({ DB_SSL: 'true', DATABASE_URL: 'postgres://u:Xk2%23pq9!Lm4$wz8%26Rt@h/db', DB_POLICY: 'strict' }),
    ['PGW_POLICY_PASSWORD_IN_URL'],
  );
});

test('role rule lists every dangerous attribute', () => {
  const [v] = evaluateRolePolicy({
    name: 'app',
    superuser: true,
    createRole: false,
    createDb: true,
    bypassRls: false,
    replication: true,
  });
  assert.equal(v?.code, 'PGW_POLICY_PRIVILEGED_ROLE');
  assert.match(v!.message, /SUPERUSER, CREATEDB, REPLICATION/);
  assert.match(v!.fix, /NOSUPERUSER NOCREATEDB NOREPLICATION/);
  assert.deepEqual(
    evaluateRolePolicy({
      name: 'app',
      superuser: false,
      createRole: false,
      createDb: false,
      bypassRls: false,
      replication: false,
    }),
    [],
  );
});

test('strict: the encrypted store unlocked by a plaintext PGWARDEN_STORE_PASSPHRASE is judged like a plaintext password', () => {
  const fromKeychain = (env: Record<string, string>) =>
    evaluateConfigPolicy(
      resolveConfig({
        env: { DB_SSL: 'true', ...env },
        environment: 'production',
        secretCredentials: {
          backend: 'keychain',
          credentials: { user: 'app', password: new Secret('Xk2#pq9!Lm4$wz8&Rt-store') },
        },
      }).config,
    );
  const [violation, ...rest] = fromKeychain({
    DB_POLICY: 'strict',
    PGWARDEN_STORE_PASSPHRASE: 'a passphrase',
  });
  assert.equal(violation?.code, 'PGW_POLICY_PASSWORD_PLAINTEXT_ENV');
  assert.equal(violation?.option, 'PGWARDEN_STORE_PASSPHRASE');
  assert.match(violation!.fix, /PGWARDEN_STORE_PASSPHRASE_FILE/);
  assert.deepEqual(rest, []);
  // The file variable wins, as in the backend; the standard policy accepts either.
  assert.deepEqual(
    fromKeychain({
      DB_POLICY: 'strict',
      PGWARDEN_STORE_PASSPHRASE_FILE: '/run/secrets/passphrase',
      PGWARDEN_STORE_PASSPHRASE: 'a passphrase',
    }),
    [],
  );
  assert.deepEqual(fromKeychain({ DB_POLICY: 'strict' }), []);
  assert.deepEqual(fromKeychain({ PGWARDEN_STORE_PASSPHRASE: 'a passphrase' }), []);
});
