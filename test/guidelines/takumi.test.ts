// Takumi's guideline (its requirements: examples/takumi/README.md), enforced by
// the configuration in examples/takumi/ and proven against one real, hardened
// cluster running the example's postgresql.conf.example: production refuses to
// start insecurely, the password comes from AWS Secrets Manager (or Vault)
// through the local protocol servers, pool limits and server-side timeouts
// hold, the roles are least-privilege, the audit is clean at medium, backups
// are encrypted, verified and retained, the guideline's alert thresholds fire
// when crossed, and the README's commands run as they are written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { runAlertsCheck } from '../../src/alerts/check.js';
import { loadAlertsConfigFile, resolveAlertsConfig } from '../../src/alerts/config.js';
import type { AuditReport } from '../../src/audit/report-model.js';
import {
  cleanupBackups,
  createBackup,
  generateKeyFile,
  listBackups,
  verifyBackup,
} from '../../src/backup/index.js';
import { PgwardenError, PolicyError } from '../../src/errors.js';
import { createPool } from '../../src/pool/pool.js';
import { applyRoles } from '../../src/roles/apply.js';
import { parseRolesFile } from '../../src/roles/roles-file.js';
import { AwsSecretsManagerServer, TEST_AWS_CREDENTIALS } from '../support/aws-secrets-manager-server.js';
import { VaultServer } from '../support/vault-server.js';
import { assertNoCanary, canary } from '../support/index.js';
import {
  adminPool,
  examplePath,
  assertTeamAudit,
  failLogins,
  captureLogger,
  failingAtOrAboveMedium,
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

const TEAM = 'takumi';
const password = canary();
const wrongPassword = canary();
let vaultToken: string;
const { logger, lines: logLines } = captureLogger();

let g: GuidelineCluster;
let aws: AwsSecretsManagerServer;
let vault: VaultServer;
let slowClient: pg.Client | undefined;
let slowQuery: Promise<unknown> | undefined;
const savedAws = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };

/** examples/takumi/<file> with only what points at this test's servers replaced. */
function deployedEnv(file: string, overrides: Record<string, string> = {}): Record<string, string> {
  const env = parseEnvExample(readExample(TEAM, file));
  const merged: Record<string, string> = {
    ...env,
    DB_HOST: 'localhost',
    DB_PORT: String(g.cluster.port),
    DB_SSL_CA: g.files.caCertPath,
    ...(env.SECRETS_BACKEND === 'aws-secrets-manager'
      ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint }
      : {}),
    ...(env.SECRETS_BACKEND === 'vault' ? { VAULT_ADDR: vault.address, VAULT_TOKEN: vaultToken } : {}),
    ...overrides,
  };
  // An empty override removes the variable.
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== ''));
}

async function refusal(env: Record<string, string>): Promise<string[]> {
  const error = await createPool({ env, logger }).then(
    async (pool) => {
      await pool.close();
      return assert.fail('expected the production policy to refuse');
    },
    (e: unknown) => e,
  );
  assert.ok(error instanceof PgwardenError, String(error));
  assertNoCanary(`${error.message}\n${error.stack ?? ''}`, password);
  return error instanceof PolicyError ? error.violations.map((v) => v.code) : [error.code];
}

before(async () => {
  process.env.AWS_ACCESS_KEY_ID = TEST_AWS_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_AWS_CREDENTIALS.secretAccessKey;
  [g, aws, vault] = await Promise.all([
    startGuidelineCluster({
      hba: [
        'hostssl takumi takumi_prod 127.0.0.1/32 scram-sha-256',
        'hostssl takumi takumi_prod ::1/128 scram-sha-256',
      ],
      conf: readServerConf(TEAM),
    }),
    AwsSecretsManagerServer.start(),
    VaultServer.start(),
  ]);
  vaultToken = vault.createToken({ ttlSeconds: 0 });
  // The guideline's own secret layout: a plain-string secret in AWS, DB_PASSWORD/DB_USER in Vault KV v2.
  aws.createSecret('takumi/production/DB_PASSWORD', password);
  vault.writeKv('secret', 'takumi/production', { DB_PASSWORD: password, DB_USER: 'takumi_prod' });
  await g.cluster.createDatabase('takumi');
  await g.cluster.queryIn(
    'takumi',
    'CREATE TABLE orders (id bigint PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g FROM generate_series(1, 100) g',
  );
  const admin = await adminPool(g.cluster, 'takumi');
  try {
    await applyRoles(admin, parseRolesFile(readExample(TEAM, 'roles.yaml'), examplePath(TEAM, 'roles.yaml')));
  } finally {
    await admin.close();
  }
  await prepareLogin(g.cluster, 'takumi_prod', password, ['takumi']);
  // Started early so it is past the 5 s threshold by the time the alerts test runs;
  // it runs until after() cancels it, however slow the tests in between are.
  slowClient = new pg.Client({
    host: g.cluster.socketDir,
    port: g.cluster.port,
    user: g.cluster.superuser,
    database: 'postgres',
    application_name: 'takumi-report',
  });
  await slowClient.connect();
  slowQuery = slowClient.query('SELECT pg_sleep(120)').catch((e: unknown) => e);
});

after(async () => {
  if (slowQuery) {
    await g.cluster.adminQuery(
      "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'takumi-report'",
    );
    await slowQuery;
    await slowClient?.end();
  }
  await Promise.all([g?.stop(), aws?.stop(), vault?.stop()]);
  if (savedAws.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
  else process.env.AWS_ACCESS_KEY_ID = savedAws.id;
  if (savedAws.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  else process.env.AWS_SECRET_ACCESS_KEY = savedAws.key;
  for (const secret of [password, wrongPassword, vaultToken])
    if (secret) assertNoCanary(logLines.join('\n'), secret);
});

describe('takumi: production requirements', () => {
  test('production refuses to start without TLS, without certificate validation, or with a plaintext password', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ DB_SSL: 'false' }, 'PGW_POLICY_TLS_DISABLED'],
      [{ DB_SSL_REJECT_UNAUTHORIZED: 'false', DB_SSL_CA: '' }, 'PGW_POLICY_CERT_VALIDATION_DISABLED'],
      // "Raw .env files with plaintext passwords are PROHIBITED in production": DB_POLICY=strict.
      [{ SECRETS_BACKEND: 'env', DB_PASSWORD: password }, 'PGW_POLICY_PASSWORD_PLAINTEXT_ENV'],
      [
        { SECRETS_BACKEND: 'dotenv', DOTENV_PATH: examplePath(TEAM, 'development.env.example') },
        'PGW_SECRET_NOT_ALLOWED',
      ],
      // "NEVER use default database passwords".
      [
        { SECRETS_BACKEND: 'env', DB_POLICY: 'standard', DB_PASSWORD: 'postgres' },
        'PGW_POLICY_WEAK_PASSWORD',
      ],
    ];
    for (const [overrides, code] of cases) {
      const codes = await refusal(deployedEnv('.env.example', overrides));
      assert.ok(codes.includes(code), `${JSON.stringify(overrides)}: ${codes.join(', ')}`);
    }
  });

  test('AWS Secrets Manager supplies the password; verify-full TLS 1.2+; pool limits and server-side timeouts hold', async () => {
    const fetchesBefore = aws.count('GetSecretValue');
    const pool = await createPool({ env: deployedEnv('.env.example'), logger });
    try {
      assert.ok(
        aws.count('GetSecretValue') > fetchesBefore,
        'the password was fetched from AWS Secrets Manager',
      );
      assert.equal(pool.credentialsInfo().backend, 'aws-secrets-manager');
      assert.equal(pool.config.tls.effectiveMode, 'verify-full');
      assert.equal(pool.config.pool.min, 10);
      assert.equal(pool.config.pool.max, 50);
      assert.equal(pool.config.pool.connectionTimeoutMs, 2000);
      assert.equal(pool.config.pool.idleTimeoutMs, 30000);
      const [tls] = (
        await pool.query<{ ssl: boolean; version: string; timeout: string; idle: string; superuser: string }>(
          `SELECT s.ssl, s.version, current_setting('statement_timeout') AS timeout,
                  current_setting('idle_in_transaction_session_timeout') AS idle, current_setting('is_superuser') AS superuser
             FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`,
        )
      ).rows;
      assert.deepEqual(
        tls && { ssl: tls.ssl, timeout: tls.timeout, idle: tls.idle, superuser: tls.superuser },
        {
          ssl: true,
          timeout: '30s',
          idle: '1min',
          superuser: 'off',
        },
      );
      assert.match(tls?.version ?? '', /^TLSv1\.[23]$/);

      // 70 callers at once: never more than DB_POOL_MAX=50 server sessions; the
      // pool-usage alert (90% of max) fires on the way.
      let usageHigh = 0;
      pool.on('pool-usage-high', () => (usageHigh += 1));
      // The 50 connections opened first: DB_CONNECTION_TIMEOUT=2000 also bounds the wait for a free
      // one (as pg-pool's connectionTimeoutMillis), and opening 50 TLS sessions on a loaded CI
      // machine must not eat into it; the burst below then only waits for queries.
      const warm = await Promise.all(Array.from({ length: 50 }, () => pool.connect()));
      for (const client of warm) client.release();
      const peak = { n: 0 };
      await Promise.all(
        Array.from({ length: 70 }, async () => {
          const rows = (
            await pool.query<{ n: number }>(
              "SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'takumi_prod' AND backend_type = 'client backend') AS n, pg_sleep(0.3)",
            )
          ).rows;
          peak.n = Math.max(peak.n, rows[0]?.n ?? 0);
        }),
      );
      assert.ok(peak.n <= 50, `peak ${peak.n} sessions`);
      assert.ok(peak.n >= 45, `peak ${peak.n}: the pool did use its connections`);
      assert.ok(usageHigh >= 1, 'pool-usage-high fired at 90% of max');
    } finally {
      await pool.close();
    }
  });

  test('HashiCorp Vault (vault.env.example) supplies user and password', async () => {
    const before = vault.count('secret/data/takumi/production');
    const pool = await createPool({ env: deployedEnv('vault.env.example'), logger });
    try {
      assert.ok(vault.count('secret/data/takumi/production') > before, 'read from Vault');
      assert.equal(pool.credentialsInfo().backend, 'vault');
      const { rows } = await pool.query<{ u: string }>('SELECT current_user AS u');
      assert.equal(rows[0]?.u, 'takumi_prod');
    } finally {
      await pool.close();
    }
  });
});

describe('takumi: least privilege, audit, backups, alerts', () => {
  test('roles.yaml: takumi_prod reads and writes its tables, nothing more; a second apply is a no-op', async () => {
    const [row] = await g.cluster.adminQuery<Record<string, boolean | number>>(`
      SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolconnlimit,
             has_database_privilege('takumi_prod', 'postgres', 'CONNECT') AS connect_postgres
        FROM pg_roles r WHERE r.rolname = 'takumi_prod'`);
    assert.deepEqual(row, {
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolreplication: false,
      rolbypassrls: false,
      rolconnlimit: 50,
      connect_postgres: false,
    });
    const client = new pg.Client({
      host: g.cluster.socketDir,
      port: g.cluster.port,
      user: 'postgres',
      database: 'takumi',
    });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, boolean>>(`SELECT
        has_database_privilege('takumi_prod', 'takumi', 'CONNECT') AS connect,
        has_table_privilege('takumi_prod', 'orders', 'SELECT') AS sel,
        has_table_privilege('takumi_prod', 'orders', 'INSERT') AS ins,
        has_table_privilege('takumi_prod', 'orders', 'UPDATE') AS upd,
        has_table_privilege('takumi_prod', 'orders', 'DELETE') AS del,
        has_table_privilege('takumi_prod', 'orders', 'TRUNCATE') AS trunc,
        has_table_privilege('takumi_prod', 'orders', 'REFERENCES') AS refs,
        has_schema_privilege('takumi_prod', 'public', 'CREATE') AS create_public`);
      assert.deepEqual(rows[0], {
        connect: true,
        sel: true,
        ins: true,
        upd: true,
        del: true,
        trunc: false,
        refs: false,
        create_public: false,
      });
    } finally {
      await client.end();
    }
    const admin = await adminPool(g.cluster, 'takumi');
    try {
      const again = await applyRoles(
        admin,
        parseRolesFile(readExample(TEAM, 'roles.yaml'), examplePath(TEAM, 'roles.yaml')),
      );
      assert.deepEqual(again.applied, []);
    } finally {
      await admin.close();
    }
  });

  test('pgwarden audit as takumi_prod over the production config: nothing failing at or above medium', async () => {
    // "Enable audit logging": connections, disconnections and DDL are logged, and checked.
    await assertTeamAudit(TEAM, {
      env: deployedEnv('.env.example'),
      logger,
      passing: [
        'log.connections',
        'log.disconnections',
        'log.statement',
        'tls.enabled',
        'tls.min-protocol',
        'tls.ciphers',
      ],
      suppressionsRequired: false,
    });
    // The same through the CLI, as the team's CI runs it.
    const cli = await runCli(
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'audit',
        '--format',
        'json',
        '--fail-on',
        'medium',
        '--suppressions',
        examplePath(TEAM, '.pgwarden-audit.yaml'),
      ],
      { ...deployedEnv('.env.example'), ...awsEnv() },
    );
    assertNoCanary(cli.stdout + cli.stderr, password);
    const cliReport = JSON.parse(cli.stdout) as AuditReport;
    assert.deepEqual(failingAtOrAboveMedium(cliReport), [], cli.stderr);
    assert.equal(
      cli.status,
      0,
      JSON.stringify({ connection: cliReport.connection, summary: cliReport.summary }),
    );
  });

  test('backups are encrypted with a separate key, verified, and kept 30 days', async () => {
    const dir = join(g.dir, 'backups');
    mkdirSync(dir, { mode: 0o700 });
    const keyFile = join(g.dir, 'backup.key');
    generateKeyFile(keyFile);
    const connection = {
      host: g.cluster.socketDir,
      port: g.cluster.port,
      user: 'postgres',
      database: 'takumi',
      sslMode: 'disable' as const,
    };
    const first = await createBackup({
      dir,
      keys: { keyFile },
      connection,
      env: {},
      keepDays: 30,
      compression: 'gzip',
    });
    const second = await createBackup({
      dir,
      keys: { keyFile },
      connection,
      env: {},
      keepDays: 30,
      compression: 'gzip',
    });
    const verified = await verifyBackup({ target: second.id, dir, level: 2, keys: { keyFile } });
    assert.ok(verified.ok, JSON.stringify(verified.checks));
    // 31 days later: the older backup has expired; the newest verified one is kept.
    const now = new Date(Date.now() + 31 * 86_400_000);
    const cleaned = cleanupBackups({ dir, keepDays: 30, keepLast: 1, minVerified: 1, confirm: true, now });
    assert.deepEqual(cleaned.deleted, [first.id]);
  });

  test('the alert thresholds of alerts.yaml fire when crossed', async () => {
    await failLogins(g.cluster, { user: 'takumi_prod', password: wrongPassword, database: 'takumi' });
    const plain = new pg.Client({
      connectionString: g.cluster.url({ user: 'takumi_prod', password, database: 'takumi' }),
      ssl: false,
    });
    await assert.rejects(plain.connect(), { code: '28000' }); // hostssl only: "no encryption"
    const log = await waitForLog(g.cluster, /password authentication failed for user/, 5);
    await waitForLog(g.cluster, /no encryption/, 1);
    // Wait until the report query started in before() is past the 5 s threshold.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [row] = await g.cluster.adminQuery<{ s: number }>(
        "SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0)::float AS s FROM pg_stat_activity WHERE application_name = 'takumi-report'",
      );
      if ((row?.s ?? 0) > 5.3) break;
      assert.ok(Date.now() < deadline, 'the slow query is not running');
      await new Promise((r) => setTimeout(r, 100));
    }
    const file = loadAlertsConfigFile(examplePath(TEAM, 'alerts.yaml'));
    const config = resolveAlertsConfig(file, { log: { files: [log] }, backupDir: join(g.dir, 'backups') });
    const report = await runAlertsCheck({
      config,
      connection: { env: deployedEnv('.env.example'), logger },
      env: {},
    });
    const status = Object.fromEntries(report.rules.map((r) => [r.rule, r.status]));
    assert.equal(status['auth-failures'], 'fired');
    assert.equal(status['unencrypted-connections'], 'fired');
    assert.equal(status['slow-queries'], 'fired');
    // A certificate valid for a year is not within 30 days; a fresh backup is not 26 h old.
    assert.equal(status['server-certificate'], 'ok');
    assert.equal(status['backup-age'], 'ok');
    const auth = report.rules.find((r) => r.rule === 'auth-failures');
    assert.equal(auth?.threshold, 5);
    for (const secret of [password, wrongPassword]) assertNoCanary(JSON.stringify(report), secret);
  });
});

describe('takumi: README.md as written', () => {
  test('the README commands run as shipped: roles, backup key, daily backup verified as latest, alerts on the csvlog of postgresql.conf.example', async () => {
    const readme = readmeRunner(TEAM);
    assertDefaultsAgree(TEAM, readme);
    const paths = readmePaths(g);
    // postgresql.conf.example makes the server write the one file alerts.yaml names.
    const [current] = await g.cluster.adminQuery<{ path: string }>(
      "SELECT pg_current_logfile('csvlog') AS path",
    );
    assert.equal(current?.path, 'log/postgresql.csv');
    const vars = {
      ...paths,
      ADMIN_URL: socketUrl(g.cluster, 'takumi'),
      BACKUP_URL: socketUrl(g.cluster, 'takumi'),
      MONITOR_URL: verifyFullUrl(g, { user: 'takumi_prod', password, database: 'takumi' }),
    };
    const secrets = [password, wrongPassword];

    const setup = await readme.run(['setup'], vars, secrets);
    assert.equal(setup.status, 0, setup.stdout + setup.stderr);
    const daily = await readme.run(['daily'], vars, secrets);
    assert.equal(daily.status, 0, daily.stdout + daily.stderr);
    const created = JSON.parse(daily.stdout.split('\n')[0]!) as { ok: boolean; id: string; database: string };
    assert.deepEqual([created.ok, created.database], [true, 'takumi']);
    // `verify latest` verified the backup just made, and recorded it with the key.
    const listed = listBackups(paths.BACKUP_DIR).backups;
    assert.deepEqual(
      listed.map((b) => [b.id, b.verified?.level, b.verified?.ok, b.verified?.authenticated]),
      [[created.id, 2, true, true]],
    );

    await failLogins(g.cluster, { user: 'takumi_prod', password: wrongPassword, database: 'takumi' });
    await waitForLog(g.cluster, /password authentication failed for user/, 5);
    const alerts = await readme.run(['alerts'], vars, secrets);
    assert.equal(alerts.status, 1, alerts.stdout + alerts.stderr);
    assert.match(alerts.stdout, /✗ FIRED\s+auth-failures/);
    assert.match(alerts.stdout, /✓ ok\s+backup-age/);
    assert.match(alerts.stdout, /✓ ok\s+server-certificate/);
    assert.ok(alerts.stdout.includes(`log: ${join(paths.PGLOG, 'postgresql.csv')} (csvlog,`), alerts.stdout);
    assert.deepEqual(readme.notRun(), []);
  });
});

function awsEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
  };
}

/** The CLI in a child process, without blocking this process (the AWS test server lives here). */
function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}
