// dbcreds' guideline (its requirements: examples/dbcreds/README.md), enforced by
// the configuration in examples/dbcreds/ and proven against one real, hardened
// cluster running the example's postgresql.conf.example and a real Secret
// Service (test/support/keychain.ts): the password lives in the OS credential
// store only, expires after 90 days and is reported before it does, passwords
// are strong, the analytics and application users have exactly their
// privileges, the audit is clean, failed logins alert, and the README's
// commands that need no person at a keyboard run as written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { runAlertsCheck } from '../../src/alerts/check.js';
import { loadAlertsConfigFile, resolveAlertsConfig } from '../../src/alerts/config.js';
import { checkExpiry } from '../../src/creds/expiry.js';
import { generatePassword } from '../../src/creds/generate.js';
import { CredentialStore } from '../../src/creds/store.js';
import { listBackups } from '../../src/backup/index.js';
import { PolicyError } from '../../src/errors.js';
import { createPool } from '../../src/pool/pool.js';
import { Secret } from '../../src/redact/secret.js';
import { applyRoles } from '../../src/roles/apply.js';
import { parseRolesFile } from '../../src/roles/roles-file.js';
import { keyringSkipReason, startKeyring, type TestKeyring } from '../support/keychain.js';
import { assertNoCanary, canary } from '../support/index.js';
import {
  adminPool,
  examplePath,
  assertTeamAudit,
  failLogins,
  captureLogger,
  parseEnvExample,
  prepareLogin,
  readExample,
  readmePaths,
  readServerConf,
  socketUrl,
  startGuidelineCluster,
  verifyFullUrl,
  waitForLog,
  type GuidelineCluster,
} from './guideline-cluster.js';
import { assertDefaultsAgree, readmeRunner } from './readme-commands.js';

const TEAM = 'dbcreds';
const skip = keyringSkipReason();
const password = canary();
const wrongPassword = canary();
const { logger, lines: logLines } = captureLogger();

let g: GuidelineCluster;
let keyring: TestKeyring;
let home: string;
let store: CredentialStore;
const saved = { bus: process.env.DBUS_SESSION_BUS_ADDRESS, home: process.env.PGWARDEN_HOME };

/** examples/dbcreds/.env.example plus where this test's keychain metadata lives. */
function deployedEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...parseEnvExample(readExample(TEAM, '.env.example')),
    PGWARDEN_HOME: home,
    ...overrides,
  };
}

before(async () => {
  if (skip) return;
  [g, keyring] = await Promise.all([
    startGuidelineCluster({
      hba: [
        'hostssl production app_user 127.0.0.1/32 scram-sha-256',
        'hostssl production app_user ::1/128 scram-sha-256',
      ],
      conf: readServerConf(TEAM),
    }),
    startKeyring(),
  ]);
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
  home = join(g.dir, 'pgwarden');
  process.env.PGWARDEN_HOME = home;
  store = new CredentialStore({ home, env: {} });
  // `pgwarden creds add prod … --production` with the guideline's 90-day expiry.
  await store.add(
    'prod',
    {
      host: 'localhost',
      port: g.cluster.port,
      database: 'production',
      user: 'app_user',
      sslMode: 'verify-full',
      sslRootCert: g.files.caCertPath,
      production: true,
    },
    { password: new Secret(password), expiresDays: 90 },
  );
  await g.cluster.createDatabase('production');
  await g.cluster.queryIn(
    'production',
    'CREATE TABLE users (id bigint PRIMARY KEY); CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint); CREATE TABLE payouts (id bigint PRIMARY KEY)',
  );
  const admin = await adminPool(g.cluster, 'production');
  try {
    await applyRoles(
      admin,
      parseRolesFile(readExample(TEAM, 'roles.yaml'), examplePath(TEAM, 'roles.yaml')),
      {
        store,
      },
    );
  } finally {
    await admin.close();
  }
  // Audit grants and a VALID UNTIL; the password stays the one in the keychain.
  await prepareLogin(g.cluster, 'app_user', password, ['production']);
});

after(async () => {
  if (skip) return;
  await Promise.all([g?.stop(), keyring?.stop()]);
  if (saved.bus === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
  else process.env.DBUS_SESSION_BUS_ADDRESS = saved.bus;
  if (saved.home === undefined) delete process.env.PGWARDEN_HOME;
  else process.env.PGWARDEN_HOME = saved.home;
  for (const secret of [password, wrongPassword]) assertNoCanary(logLines.join('\n'), secret);
});

describe('dbcreds', { skip }, () => {
  test('the password comes from the OS credential store; nothing secret in the environment or metadata', async () => {
    const env = deployedEnv();
    for (const value of Object.values(env)) assertNoCanary(value, password);
    const pool = await createPool({ env, logger });
    try {
      assert.equal(pool.credentialsInfo().backend, 'keychain');
      assert.equal(pool.config.tls.effectiveMode, 'verify-full');
      const { rows } = await pool.query<{ u: string; ssl: boolean; t: string }>(
        "SELECT current_user AS u, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl, current_setting('statement_timeout') AS t",
      );
      assert.deepEqual(rows[0], { u: 'app_user', ssl: true, t: '30s' });
    } finally {
      await pool.close();
    }
    const { readFileSync } = await import('node:fs');
    assertNoCanary(readFileSync(join(home, 'credentials.json'), 'utf8'), password);
  });

  test('plain-text passwords are refused in production; weak passwords too; generated ones are strong', async () => {
    const plain = await createPool({
      // Without the keychain its stored CA is gone too: name it, so only the password is at issue.
      env: deployedEnv({
        SECRETS_BACKEND: 'env',
        DB_HOST: 'localhost',
        DB_PASSWORD: password,
        DB_SSL_CA: g.files.caCertPath,
      }),
      logger,
    }).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(plain instanceof PolicyError, String(plain));
    assert.ok(plain.violations.some((v) => v.code === 'PGW_POLICY_PASSWORD_PLAINTEXT_ENV'));
    assertNoCanary(`${plain.message}${plain.stack ?? ''}`, password);
    const weak = await createPool({
      env: deployedEnv({
        SECRETS_BACKEND: 'env',
        DB_POLICY: 'standard',
        DB_HOST: 'localhost',
        DB_PASSWORD: 'new_secure_password',
        DB_SSL_CA: g.files.caCertPath,
      }),
      logger,
    }).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(weak instanceof PolicyError, String(weak));
    assert.ok(weak.violations.some((v) => v.code === 'PGW_POLICY_WEAK_PASSWORD'));
    // "Minimum 16 characters; mix of uppercase, lowercase, numbers, symbols".
    const generated = generatePassword().reveal();
    assert.ok(generated.length >= 16);
    for (const cls of [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]) assert.match(generated, cls);
  });

  test('90-day expiry: `creds check` reports prod as expiring 5 days before, and the alert fires', async () => {
    const environments = await store.list();
    const in85 = checkExpiry(environments, { now: new Date(Date.now() + 85.5 * 86_400_000), warnDays: 14 });
    const prod = in85.expiring.find((e) => e.name === 'prod');
    assert.equal(prod?.status, 'expiring');
    assert.ok(prod?.daysLeft !== undefined && prod.daysLeft <= 5, String(prod?.daysLeft));
    assert.ok(checkExpiry(environments, { warnDays: 14 }).healthy.some((e) => e.name === 'prod'));
  });

  test('roles.yaml: analytics_reader reads only; app_user reads and writes users and orders only; neither can do more', async () => {
    const client = new pg.Client({
      host: g.cluster.socketDir,
      port: g.cluster.port,
      user: 'postgres',
      database: 'production',
    });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, boolean>>(`SELECT
        has_database_privilege('analytics_reader', 'production', 'CONNECT') AS ro_connect,
        has_schema_privilege('analytics_reader', 'public', 'USAGE') AS ro_usage,
        has_table_privilege('analytics_reader', 'users', 'SELECT') AS ro_select,
        has_table_privilege('analytics_reader', 'orders', 'INSERT,UPDATE,DELETE,TRUNCATE') AS ro_write,
        has_database_privilege('app_user', 'production', 'CONNECT') AS app_connect,
        has_table_privilege('app_user', 'users', 'SELECT,INSERT,UPDATE,DELETE') AS app_rw_users,
        has_table_privilege('app_user', 'orders', 'SELECT,INSERT,UPDATE,DELETE') AS app_rw_orders,
        has_table_privilege('app_user', 'orders', 'TRUNCATE,REFERENCES,TRIGGER') AS app_more,
        has_table_privilege('app_user', 'payouts', 'SELECT,INSERT,UPDATE,DELETE') AS app_other_table,
        has_table_privilege('analytics_reader', 'payouts', 'SELECT') AS ro_other_table,
        has_schema_privilege('app_user', 'public', 'CREATE') AS app_create,
        has_database_privilege('app_user', 'postgres', 'CONNECT') AS app_postgres`);
      assert.deepEqual(rows[0], {
        ro_connect: true,
        ro_usage: true,
        ro_select: true,
        ro_write: false,
        app_connect: true,
        app_rw_users: true,
        app_rw_orders: true,
        app_more: false,
        app_other_table: false,
        ro_other_table: true,
        app_create: false,
        app_postgres: false,
      });
    } finally {
      await client.end();
    }
  });

  test('pgwarden audit as app_user with the keychain config: nothing failing at or above medium', async () => {
    // Connection logging on; pg_hba.conf: SCRAM (not md5), TLS only, narrow networks.
    await assertTeamAudit(TEAM, {
      env: deployedEnv(),
      logger,
      passing: ['log.connections', 'hba.md5', 'hba.non-ssl-host', 'hba.wide-network'],
    });
  });

  test('alerts.yaml: 5 failed logins fire; stored credentials 90 days out do not', async () => {
    await failLogins(g.cluster, { user: 'app_user', password: wrongPassword, database: 'production' });
    const log = await waitForLog(g.cluster, /password authentication failed for user/, 5);
    const config = resolveAlertsConfig(loadAlertsConfigFile(examplePath(TEAM, 'alerts.yaml')), {
      log: { files: [log] },
    });
    const report = await runAlertsCheck({
      config,
      connection: { env: deployedEnv(), logger },
      env: { PGWARDEN_HOME: home },
    });
    const status = Object.fromEntries(report.rules.map((r) => [r.rule, r.status]));
    assert.equal(status['auth-failures'], 'fired');
    assert.equal(status['credentials-expiry'], 'ok');
    assertNoCanary(JSON.stringify(report), wrongPassword);
  });
});

describe('dbcreds: README.md as written', { skip }, () => {
  test('the README commands run as shipped: creds check, alerts on the csvlog and the stored expiry, a backup verified as latest', async () => {
    const readme = readmeRunner(TEAM);
    assertDefaultsAgree(TEAM, readme);
    const [current] = await g.cluster.adminQuery<{ path: string }>(
      "SELECT pg_current_logfile('csvlog') AS path",
    );
    assert.equal(current?.path, 'log/postgresql.csv');
    // PGWARDEN_HOME is where `creds add prod` (before()) recorded the 90-day expiry.
    const paths = { ...readmePaths(g), PGWARDEN_HOME: home };
    const vars = {
      ...paths,
      MONITOR_URL: verifyFullUrl(g, { user: 'app_user', password, database: 'production' }),
      BACKUP_URL: socketUrl(g.cluster, 'production'),
    };
    const secrets = [password, wrongPassword];

    const expiry = await readme.run(['expiry'], vars, secrets);
    assert.equal(expiry.status, 0, expiry.stdout + expiry.stderr);
    assert.match(expiry.stdout, /prod/);

    await failLogins(g.cluster, { user: 'app_user', password: wrongPassword, database: 'production' });
    await waitForLog(g.cluster, /password authentication failed for user/, 5);
    const alerts = await readme.run(['alerts'], vars, secrets);
    assert.equal(alerts.status, 1, alerts.stdout + alerts.stderr);
    assert.match(alerts.stdout, /✗ FIRED\s+auth-failures/);
    assert.match(alerts.stdout, /✓ ok\s+credentials-expiry/);
    assert.match(alerts.stdout, /✓ ok\s+server-certificate/);
    assert.ok(alerts.stdout.includes(`log: ${join(paths.PGLOG, 'postgresql.csv')} (csvlog,`), alerts.stdout);

    const backups = await readme.run(['backups'], vars, secrets);
    assert.equal(backups.status, 0, backups.stdout + backups.stderr);
    const created = JSON.parse(backups.stdout.split('\n').find((l) => l.startsWith('{'))!) as { id: string };
    assert.deepEqual(
      listBackups(paths.BACKUP_DIR).backups.map((b) => [b.id, b.verified?.level, b.verified?.ok]),
      [[created.id, 2, true]],
    );
    assert.deepEqual(readme.notRun(), []);
  });
});
