// PyFactor's guideline (its requirements: examples/pyfactor/README.md), enforced
// by the configuration in examples/pyfactor/ and proven against one real,
// hardened cluster running the example's postgresql.conf.example (RDS's
// parameter group, and the log RDS writes): credentials from AWS Secrets
// Manager (RDS JSON, through the local protocol server), TLS with certificate
// validation or no start in production, the pool limits it names, sanitized
// errors, the restricted app_user, the audit settings, encrypted backups
// restored for real, its alerts, and the README's commands run as written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { inspect } from 'node:util';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { runAlertsCheck } from '../../src/alerts/check.js';
import { loadAlertsConfigFile, resolveAlertsConfig } from '../../src/alerts/config.js';
import { listBackups } from '../../src/backup/index.js';
import { PgwardenError, PolicyError } from '../../src/errors.js';
import { createPool } from '../../src/pool/pool.js';
import { applyRoles } from '../../src/roles/apply.js';
import { parseRolesFile } from '../../src/roles/roles-file.js';
import { AwsSecretsManagerServer, TEST_AWS_CREDENTIALS } from '../support/aws-secrets-manager-server.js';
import { assertNoCanary, canary } from '../support/index.js';
import {
  adminPool,
  assertBackupRestores,
  examplePath,
  assertTeamAudit,
  failLogins,
  captureLogger,
  readServerConf,
  parseEnvExample,
  prepareLogin,
  readExample,
  readmePaths,
  socketUrl,
  startGuidelineCluster,
  verifyFullUrl,
  waitForLog,
  type GuidelineCluster,
} from './guideline-cluster.js';
import { assertDefaultsAgree, readmeRunner } from './readme-commands.js';

const TEAM = 'pyfactor';
const password = canary();
const wrongPassword = canary();
const { logger, lines: logLines } = captureLogger();

let g: GuidelineCluster;
let aws: AwsSecretsManagerServer;
let slowClient: pg.Client | undefined;
let slowQuery: Promise<unknown> | undefined;
const savedAws = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };

/** examples/pyfactor/.env.example pointed at this test's cluster and AWS server; '' removes a variable. */
function deployedEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const merged: Record<string, string> = {
    ...parseEnvExample(readExample(TEAM, '.env.example')),
    DB_HOST: 'localhost',
    DB_PORT: String(g.cluster.port),
    DB_SSL_CA: g.files.caCertPath,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== ''));
}

/** The CLI in a child process, without blocking this process (the AWS test server lives here). */
function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
        ...env,
      },
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

before(async () => {
  process.env.AWS_ACCESS_KEY_ID = TEST_AWS_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_AWS_CREDENTIALS.secretAccessKey;
  [g, aws] = await Promise.all([
    startGuidelineCluster({
      hba: [
        'hostssl app_db app_user 127.0.0.1/32 scram-sha-256',
        'hostssl app_db app_user ::1/128 scram-sha-256',
      ],
      conf: readServerConf(TEAM),
    }),
    AwsSecretsManagerServer.start(),
  ]);
  // The secret the guideline reads: RDS JSON at pyfactor/db/credentials.
  aws.createSecret(
    'pyfactor/db/credentials',
    JSON.stringify({ engine: 'postgres', username: 'app_user', password, dbname: 'app_db' }),
  );
  aws.createSecret(
    'pyfactor/db/stale',
    JSON.stringify({ engine: 'postgres', username: 'app_user', password: wrongPassword }),
  );
  await g.cluster.createDatabase('app_db');
  await g.cluster.queryIn(
    'app_db',
    'CREATE TABLE invoices (id bigint PRIMARY KEY, amount numeric); INSERT INTO invoices SELECT g, g FROM generate_series(1, 100) g',
  );
  const admin = await adminPool(g.cluster, 'app_db');
  try {
    await applyRoles(admin, parseRolesFile(readExample(TEAM, 'roles.yaml'), examplePath(TEAM, 'roles.yaml')));
  } finally {
    await admin.close();
  }
  await prepareLogin(g.cluster, 'app_user', password, ['app_db']);
  slowClient = new pg.Client({
    host: g.cluster.socketDir,
    port: g.cluster.port,
    user: g.cluster.superuser,
    database: 'app_db',
    application_name: 'pyfactor-report',
  });
  await slowClient.connect();
  slowQuery = slowClient.query('SELECT pg_sleep(120)').catch((e: unknown) => e);
});

after(async () => {
  if (slowQuery) {
    await g.cluster.adminQuery(
      "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'pyfactor-report'",
    );
    await slowQuery;
    await slowClient?.end();
  }
  await Promise.all([g?.stop(), aws?.stop()]);
  if (savedAws.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
  else process.env.AWS_ACCESS_KEY_ID = savedAws.id;
  if (savedAws.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  else process.env.AWS_SECRET_ACCESS_KEY = savedAws.key;
  for (const secret of [password, wrongPassword]) assertNoCanary(logLines.join('\n'), secret);
});

describe('pyfactor', () => {
  test('production refuses to start without TLS or without certificate validation', async () => {
    for (const [overrides, code] of [
      [{ DB_SSL: 'false' }, 'PGW_POLICY_TLS_DISABLED'],
      [{ DB_SSL_REJECT_UNAUTHORIZED: 'false', DB_SSL_CA: '' }, 'PGW_POLICY_CERT_VALIDATION_DISABLED'],
    ] as const) {
      const error = await createPool({ env: deployedEnv(overrides), logger }).then(
        async (p) => {
          await p.close();
          return assert.fail('expected a refusal');
        },
        (e: unknown) => e,
      );
      assert.ok(error instanceof PolicyError, String(error));
      assert.ok(
        error.violations.some((v) => v.code === code),
        error.violations.map((v) => v.code).join(', '),
      );
    }
  });

  test('AWS Secrets Manager (pyfactor/db/credentials) supplies the credentials; pool max 20, 2 s / 30 s timeouts hold', async () => {
    const before = aws.count('GetSecretValue');
    const pool = await createPool({ env: deployedEnv(), logger });
    try {
      assert.ok(aws.count('GetSecretValue') > before, 'fetched from AWS Secrets Manager');
      assert.equal(pool.credentialsInfo().backend, 'aws-secrets-manager');
      assert.equal(pool.config.tls.effectiveMode, 'verify-full');
      assert.equal(pool.config.pool.max, 20);
      assert.equal(pool.config.pool.idleTimeoutMs, 30_000);
      assert.equal(pool.config.pool.connectionTimeoutMs, 2_000);
      const { rows } = await pool.query<{ u: string; t: string; ssl: boolean }>(
        "SELECT current_user AS u, current_setting('statement_timeout') AS t, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl",
      );
      assert.deepEqual(rows[0], { u: 'app_user', t: '30s', ssl: true });
      let peak = 0;
      await Promise.all(
        Array.from({ length: 30 }, async () => {
          const { rows: r } = await pool.query<{ n: number }>(
            "SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'app_user' AND backend_type = 'client backend') AS n, pg_sleep(0.3)",
          );
          peak = Math.max(peak, r[0]?.n ?? 0);
        }),
      );
      assert.ok(peak <= 20 && peak >= 15, `peak ${peak}`);
    } finally {
      await pool.close();
    }
  });

  test('errors are sanitized: a rejected password never appears in the error, its JSON or the logs', async () => {
    const error = await createPool({ env: deployedEnv({ DB_SECRET_ID: 'pyfactor/db/stale' }), logger }).then(
      async (p) => {
        await p.close();
        return assert.fail('expected an authentication failure');
      },
      (e: unknown) => e,
    );
    assert.ok(error instanceof PgwardenError, String(error));
    assert.equal(error.code, 'PGW_CONN_AUTH_FAILED');
    for (const text of [
      error.message,
      error.stack ?? '',
      JSON.stringify(error),
      inspect(error, { depth: 10 }),
    ]) {
      assertNoCanary(text, wrongPassword);
      assertNoCanary(text, password);
    }
  });

  test('roles.yaml: app_user has CONNECT, USAGE and SELECT/INSERT/UPDATE/DELETE, nothing else', async () => {
    const client = new pg.Client({
      host: g.cluster.socketDir,
      port: g.cluster.port,
      user: 'postgres',
      database: 'app_db',
    });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, boolean>>(`SELECT
        r.rolsuper, r.rolcreaterole, r.rolcreatedb,
        has_database_privilege('app_user', 'app_db', 'CONNECT') AS connect,
        has_database_privilege('app_user', 'app_db', 'CREATE') AS create_db_schema,
        has_database_privilege('app_user', 'postgres', 'CONNECT') AS connect_postgres,
        has_schema_privilege('app_user', 'public', 'USAGE') AS usage,
        has_schema_privilege('app_user', 'public', 'CREATE') AS create_public,
        has_table_privilege('app_user', 'invoices', 'SELECT') AS sel,
        has_table_privilege('app_user', 'invoices', 'INSERT') AS ins,
        has_table_privilege('app_user', 'invoices', 'UPDATE') AS upd,
        has_table_privilege('app_user', 'invoices', 'DELETE') AS del,
        has_table_privilege('app_user', 'invoices', 'TRUNCATE') AS trunc,
        has_table_privilege('app_user', 'invoices', 'TRIGGER') AS trig
        FROM pg_roles r WHERE r.rolname = 'app_user'`);
      assert.deepEqual(rows[0], {
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        connect: true,
        create_db_schema: false,
        connect_postgres: false,
        usage: true,
        create_public: false,
        sel: true,
        ins: true,
        upd: true,
        del: true,
        trunc: false,
        trig: false,
      });
    } finally {
      await client.end();
    }
  });

  test('pgwarden audit: log_statement=mod and 1 s duration logging in force, nothing failing at or above medium', async () => {
    await assertTeamAudit(TEAM, {
      env: deployedEnv(),
      logger,
      passing: ['log.statement', 'log.min-duration', 'log.connections', 'server.version-supported'],
    });
    const [row] = await g.cluster.adminQuery<{ s: string; d: string }>(
      "SELECT current_setting('log_statement') AS s, current_setting('log_min_duration_statement') AS d",
    );
    assert.deepEqual(row, { s: 'mod', d: '1s' });
    // The CLI's doctor, as the deploy pipeline runs it: exit 0 over the production config.
    const doctor = await runCli(['doctor', '--env', 'production'], deployedEnv());
    assertNoCanary(doctor.stdout + doctor.stderr, password);
    assert.equal(doctor.status, 0, doctor.stdout + doctor.stderr);
  });

  test('backups are encrypted and a recovery is tested (verify level 3 restores it)', async () => {
    await assertBackupRestores(g, TEAM, 'app_db');
  });

  test('alerts.yaml: failed logins and a query past 1 s fire', async () => {
    await failLogins(g.cluster, { user: 'app_user', password: wrongPassword, database: 'app_db' });
    const log = await waitForLog(g.cluster, /password authentication failed for user/, 5);
    // The report query started in before() must be past the 1 s threshold.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [row] = await g.cluster.adminQuery<{ s: number }>(
        "SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0)::float AS s FROM pg_stat_activity WHERE application_name = 'pyfactor-report'",
      );
      if ((row?.s ?? 0) > 1.2) break;
      assert.ok(Date.now() < deadline, 'the slow query is not running');
      await new Promise((r) => setTimeout(r, 100));
    }
    const config = resolveAlertsConfig(loadAlertsConfigFile(examplePath(TEAM, 'alerts.yaml')), {
      log: { files: [log] },
      backupDir: join(g.dir, 'backups'),
    });
    const report = await runAlertsCheck({ config, connection: { env: deployedEnv(), logger }, env: {} });
    const status = Object.fromEntries(report.rules.map((r) => [r.rule, r.status]));
    assert.equal(status['auth-failures'], 'fired');
    assert.equal(status['slow-queries'], 'fired');
    assert.equal(status['backup-age'], 'ok');
    assert.equal(report.rules.find((r) => r.rule === 'slow-queries')?.threshold, 1);
    assertNoCanary(JSON.stringify(report), wrongPassword);
  });
});

describe('pyfactor: README.md as written', () => {
  test('the README commands run as shipped: roles and drift check, key, daily backup, weekly recovery test of latest, alerts on the RDS-format log', async () => {
    const readme = readmeRunner(TEAM);
    assertDefaultsAgree(TEAM, readme);
    // PGLOG is where the alerts job keeps its copy of the RDS log, not the server's own directory.
    const paths = { ...readmePaths(g), PGLOG: join(g.dir, 'readme', 'rds-log') };
    const vars = {
      ...paths,
      ADMIN_URL: socketUrl(g.cluster, 'app_db'),
      BACKUP_URL: socketUrl(g.cluster, 'app_db'),
      SCRATCH_URL: socketUrl(g.cluster, 'postgres'),
      MONITOR_URL: verifyFullUrl(g, { user: 'app_user', password, database: 'app_db' }),
    };
    const secrets = [password, wrongPassword];

    const setup = await readme.run(['setup'], vars, secrets);
    assert.equal(setup.status, 0, setup.stdout + setup.stderr);
    const daily = await readme.run(['daily'], vars, secrets);
    assert.equal(daily.status, 0, daily.stdout + daily.stderr);
    const created = JSON.parse(daily.stdout.split('\n')[0]!) as { id: string; database: string };
    assert.equal(created.database, 'app_db');
    const weekly = await readme.run(['weekly'], vars, secrets);
    assert.equal(weekly.status, 0, weekly.stdout + weekly.stderr);
    assert.deepEqual(
      listBackups(paths.BACKUP_DIR).backups.map((b) => [b.id, b.verified?.level, b.verified?.ok]),
      [[created.id, 3, true]],
    );

    await failLogins(g.cluster, { user: 'app_user', password: wrongPassword, database: 'app_db' });
    const log = await waitForLog(g.cluster, /password authentication failed for user/, 5);
    // The server writes RDS's log (postgresql.conf.example); this copy stands in for the
    // README's `aws rds download-db-log-file-portion`, the one block the test cannot run.
    assert.match(log, /\/log\/postgresql\.log\.\d{4}-\d\d-\d\d-\d\d$/);
    mkdirSync(paths.PGLOG, { mode: 0o700 });
    copyFileSync(log, join(paths.PGLOG, 'postgresql.log'));
    const alerts = await readme.run(['alerts'], vars, secrets);
    assert.equal(alerts.status, 1, alerts.stdout + alerts.stderr);
    assert.match(
      alerts.stdout,
      /✗ FIRED\s+auth-failures\s+CRITICAL \d+ failed authentication\(s\)[^\n]*app_user/,
    );
    assert.match(alerts.stdout, /✓ ok\s+backup-age/);
    assert.match(alerts.stdout, /✓ ok\s+server-certificate/);
    assert.ok(alerts.stdout.includes(`log: ${join(paths.PGLOG, 'postgresql.log')} (stderr,`), alerts.stdout);
    assert.doesNotMatch(alerts.stdout, /unparsed/);
    assert.deepEqual(readme.notRun(), []);
  });
});
