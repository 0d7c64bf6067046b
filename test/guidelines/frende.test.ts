// Frende's guideline (its requirements: examples/frende/README.md), enforced by
// the configuration in examples/frende/ and proven against one real, hardened
// cluster running the example's postgresql.conf.example: verify-full TLS or no
// start in production, the SQLAlchemy-style pool variables in force, the
// server's access-control settings, the {db}_app least-privilege user, a clean
// audit, gzip-compressed encrypted backups that restore and expire after 30
// days, the /api/health/... endpoints, alerts, and the README's commands run
// as they are written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { runAlertsCheck } from '../../src/alerts/check.js';
import { loadAlertsConfigFile, resolveAlertsConfig } from '../../src/alerts/config.js';
import {
  cleanupBackups,
  createBackup,
  generateKeyFile,
  listBackups,
  verifyBackup,
} from '../../src/backup/index.js';
import type { PgwardenError } from '../../src/errors.js';
import { PolicyError } from '../../src/errors.js';
import { healthHandler } from '../../src/health/handler.js';
import { createPool, type WardenPool } from '../../src/pool/pool.js';
import { applyRoles } from '../../src/roles/apply.js';
import { parseRolesFile } from '../../src/roles/roles-file.js';
import { assertNoCanary, canary } from '../support/index.js';
import {
  adminPool,
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
  watchdog,
} from './guideline-cluster.js';
import { assertDefaultsAgree, readmeRunner } from './readme-commands.js';

const TEAM = 'frende';
const password = canary();
const wrongPassword = canary();
const monitorPassword = canary();
const { logger, lines: logLines } = captureLogger();

let g: GuidelineCluster;
let pool: WardenPool;
let server: Server;
let backupDir: string;
let serverLog: string;

/**
 * examples/frende/.env.example with DATABASE_URL pointed at this cluster: user,
 * database and sslmode stay as committed; host, port, password and CA are this test's.
 */
function deployedEnv(urlParams: Record<string, string | null> = {}): Record<string, string> {
  const env = parseEnvExample(readExample(TEAM, '.env.example'));
  const url = new URL(env.DATABASE_URL ?? assert.fail('DATABASE_URL missing'));
  url.hostname = 'localhost';
  url.port = String(g.cluster.port);
  url.password = encodeURIComponent(password);
  url.searchParams.set('sslrootcert', g.files.caCertPath);
  for (const [k, v] of Object.entries(urlParams)) {
    if (v === null) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  return { ...env, DATABASE_URL: url.toString(), JWT_SECRET_KEY: canary(), DB_APP_PASSWORD: password };
}

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const { port } = server.address() as AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await response.text();
  assertNoCanary(text, password);
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
}

before(async () => {
  g = await startGuidelineCluster({
    hba: [
      'hostssl frende frende_app 127.0.0.1/32 scram-sha-256',
      'hostssl frende frende_app ::1/128 scram-sha-256',
      // The monitoring role the README's alerts check connects as (MONITOR_URL).
      'hostssl frende frende_monitor 127.0.0.1/32 scram-sha-256',
    ],
    conf: readServerConf(TEAM),
  });
  await g.cluster.createDatabase('frende');
  await g.cluster.queryIn(
    'frende',
    'CREATE TABLE matches (id bigint PRIMARY KEY, score int); INSERT INTO matches SELECT g, g FROM generate_series(1, 200) g',
  );
  const admin = await adminPool(g.cluster, 'frende');
  try {
    await applyRoles(admin, parseRolesFile(readExample(TEAM, 'roles.yaml'), examplePath(TEAM, 'roles.yaml')));
  } finally {
    await admin.close();
  }
  await prepareLogin(g.cluster, 'frende_app', password, ['frende']);
  pool = await createPool({ env: deployedEnv(), logger });
  server = createServer(healthHandler(pool, { prefix: '/api/health' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backupDir = join(g.dir, 'backups', 'frende', 'database');
  mkdirSync(backupDir, { recursive: true, mode: 0o700 });
});

after(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await pool?.close();
  await g?.stop();
  for (const secret of [password, wrongPassword]) assertNoCanary(logLines.join('\n'), secret);
});

describe('frende', () => {
  test('production refuses to start without TLS or without certificate verification', async () => {
    for (const [params, code] of [
      [{ sslmode: 'disable' }, 'PGW_POLICY_TLS_DISABLED'],
      [{ sslmode: 'require', sslrootcert: null }, 'PGW_POLICY_CERT_VALIDATION_DISABLED'],
    ] as const) {
      const error = await createPool({ env: deployedEnv(params), logger }).then(
        async (p) => {
          await p.close();
          return assert.fail('expected a refusal');
        },
        (e: unknown) => e,
      );
      assert.ok(error instanceof PolicyError, String(error));
      assertNoCanary(`${(error as PgwardenError).message}${(error as Error).stack ?? ''}`, password);
      assert.ok(
        error.violations.some((v) => v.code === code),
        error.violations.map((v) => v.code).join(', '),
      );
    }
  });

  test('pgwarden audit as frende_app: nothing failing at or above medium (with .pgwarden-audit.yaml)', async () => {
    await assertTeamAudit(TEAM, {
      env: deployedEnv(),
      logger,
      passing: ['auth.timeout', 'log.connections', 'log.disconnections', 'tls.enabled'],
    });
  });

  test('pool: DATABASE_POOL_SIZE 20 + MAX_OVERFLOW 30, POOL_TIMEOUT 60 s, pre-ping; server: 200 connections, 60 s auth timeout', async () => {
    assert.equal(pool.config.tls.effectiveMode, 'verify-full');
    assert.equal(pool.config.pool.min, 20);
    assert.equal(pool.config.pool.max, 50);
    assert.equal(pool.config.pool.acquireTimeoutMs, 60_000);
    // Pre-ping: a connection idle longer than 10 s is validated before it is handed out.
    assert.equal(pool.config.pool.prePingIdleMs, 10_000);
    const { rows } = await pool.query<Record<string, string | boolean>>(`SELECT
        current_setting('max_connections') AS max_connections,
        current_setting('authentication_timeout') AS auth_timeout,
        current_setting('log_connections') AS log_connections,
        current_setting('log_disconnections') AS log_disconnections,
        current_setting('statement_timeout') AS statement_timeout,
        (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl`);
    assert.deepEqual(rows[0], {
      max_connections: '200',
      auth_timeout: '1min',
      log_connections: 'on',
      log_disconnections: 'on',
      statement_timeout: '30s',
      ssl: true,
    });
    // 60 callers at once: at most 50 server sessions (pool size + overflow).
    let peak = 0;
    await Promise.all(
      Array.from({ length: 60 }, async () => {
        const { rows: r } = await pool.query<{ n: number }>(
          "SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'frende_app' AND backend_type = 'client backend') AS n, pg_sleep(0.3)",
        );
        peak = Math.max(peak, r[0]?.n ?? 0);
      }),
    );
    assert.ok(peak <= 50 && peak >= 45, `peak ${peak}`);
  });

  test('roles.yaml: frende_app has exactly the app privileges on its tables', async () => {
    const client = new pg.Client({
      host: g.cluster.socketDir,
      port: g.cluster.port,
      user: 'postgres',
      database: 'frende',
    });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, boolean | number>>(`SELECT
        r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolconnlimit,
        has_table_privilege('frende_app', 'matches', 'SELECT') AS sel,
        has_table_privilege('frende_app', 'matches', 'INSERT') AS ins,
        has_table_privilege('frende_app', 'matches', 'UPDATE') AS upd,
        has_table_privilege('frende_app', 'matches', 'DELETE') AS del,
        has_table_privilege('frende_app', 'matches', 'TRUNCATE') AS trunc,
        has_schema_privilege('frende_app', 'public', 'CREATE') AS create_public,
        has_database_privilege('frende_app', 'postgres', 'CONNECT') AS connect_postgres
        FROM pg_roles r WHERE r.rolname = 'frende_app'`);
      assert.deepEqual(rows[0], {
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolconnlimit: 50,
        sel: true,
        ins: true,
        upd: true,
        del: true,
        trunc: false,
        create_public: false,
        connect_postgres: false,
      });
    } finally {
      await client.end();
    }
  });

  test('health endpoints answer at /api/health/, /database, /detailed, /ready, /live', async () => {
    for (const path of [
      '/api/health/',
      '/api/health/database',
      '/api/health/detailed',
      '/api/health/ready',
      '/api/health/live',
    ]) {
      const { status, body } = await get(path);
      assert.equal(status, 200, `${path}: ${JSON.stringify(body)}`);
    }
    const database = await get('/api/health/database');
    assert.equal(database.body.status, 'ok');
    assert.equal((await get('/api/health/nope')).status, 404);
  });

  test('alerts: no backup fires backup-age, 5 failed logins fire auth-failures', async () => {
    await failLogins(g.cluster, { user: 'frende_app', password: wrongPassword, database: 'frende' });
    serverLog = await waitForLog(g.cluster, /password authentication failed for user/, 5);
    const config = resolveAlertsConfig(loadAlertsConfigFile(examplePath(TEAM, 'alerts.yaml')), {
      log: { files: [serverLog] },
      backupDir,
    });
    const report = await runAlertsCheck({ config, pool, env: {} });
    const status = Object.fromEntries(report.rules.map((r) => [r.rule, r.status]));
    assert.equal(status['auth-failures'], 'fired');
    assert.equal(status['backup-age'], 'fired');
    assert.equal(status['server-certificate'], 'ok');
    assertNoCanary(JSON.stringify(report), wrongPassword);
  });

  test('daily backup: gzip, encrypted, verified by a real restore, kept 30 days; then backup-age is ok', async (t) => {
    const keyFile = join(g.dir, 'frende-backup.key');
    generateKeyFile(keyFile);
    const connection = {
      host: g.cluster.socketDir,
      port: g.cluster.port,
      user: 'postgres',
      database: 'frende',
      sslMode: 'disable' as const,
    };
    t.after(watchdog(g.cluster, 'frende daily backup'));
    const old = await createBackup({
      dir: backupDir,
      keys: { keyFile },
      connection,
      env: {},
      compression: 'gzip',
      keepDays: 30,
    });
    const fresh = await createBackup({
      dir: backupDir,
      keys: { keyFile },
      connection,
      env: {},
      compression: 'gzip',
      keepDays: 30,
    });
    assert.equal(fresh.manifest.compression, 'gzip');
    const verified = await verifyBackup({
      target: fresh.id,
      dir: backupDir,
      level: 3,
      keys: { keyFile },
      connection,
      env: {},
    });
    assert.ok(verified.ok, JSON.stringify(verified.checks));
    const later = new Date(Date.now() + 31 * 86_400_000);
    const cleaned = cleanupBackups({ dir: backupDir, keepDays: 30, confirm: true, now: later });
    assert.deepEqual(cleaned.deleted, [old.id]);
    const config = resolveAlertsConfig(loadAlertsConfigFile(examplePath(TEAM, 'alerts.yaml')), {
      log: { files: [serverLog] },
      backupDir,
    });
    const report = await runAlertsCheck({ config, pool, env: {} });
    assert.equal(report.rules.find((r) => r.rule === 'backup-age')?.status, 'ok');
  });
});

describe('frende: README.md as written', () => {
  test('the README commands run as shipped: roles, key, daily gzip backup verified as latest by a real restore, restore latest, alerts on the csvlog', async () => {
    const readme = readmeRunner(TEAM);
    assertDefaultsAgree(TEAM, readme);
    const paths = readmePaths(g);
    const [current] = await g.cluster.adminQuery<{ path: string }>(
      "SELECT pg_current_logfile('csvlog') AS path",
    );
    assert.equal(current?.path, 'log/postgresql.csv');
    await g.cluster.createDatabase('frende_restored');
    // Monitoring has its own role: the application's pool may hold all 50 of frende_app's sessions.
    await g.cluster.createRole('frende_monitor', { password: monitorPassword, inRoles: ['pg_monitor'] });
    await g.cluster.adminQuery('GRANT CONNECT ON DATABASE frende TO frende_monitor');
    const vars = {
      ...paths,
      ADMIN_URL: socketUrl(g.cluster, 'frende'),
      BACKUP_URL: socketUrl(g.cluster, 'frende'),
      SCRATCH_URL: socketUrl(g.cluster, 'postgres'),
      RESTORE_URL: socketUrl(g.cluster, 'frende_restored'),
      MONITOR_URL: verifyFullUrl(g, {
        user: 'frende_monitor',
        password: monitorPassword,
        database: 'frende',
      }),
    };
    const secrets = [password, wrongPassword, monitorPassword];

    const setup = await readme.run(['setup'], vars, secrets);
    assert.equal(setup.status, 0, setup.stdout + setup.stderr);
    const daily = await readme.run(['daily'], vars, secrets);
    assert.equal(daily.status, 0, daily.stdout + daily.stderr);
    const created = JSON.parse(daily.stdout.split('\n')[0]!) as { id: string; compression: string };
    assert.equal(created.compression, 'gzip');
    assert.deepEqual(
      listBackups(paths.BACKUP_DIR).backups.map((b) => [b.id, b.verified?.level, b.verified?.ok]),
      [[created.id, 3, true]],
    );

    const restore = await readme.run(['restore'], vars, secrets);
    assert.equal(restore.status, 0, restore.stdout + restore.stderr);
    assert.ok(restore.stdout.includes(created.id), restore.stdout);
    const check = await adminPool(g.cluster, 'frende_restored');
    let restored;
    try {
      restored = (await check.query<{ n: number }>('SELECT count(*)::int AS n FROM matches')).rows[0];
    } finally {
      await check.close();
    }
    assert.equal(restored?.n, 200);

    await failLogins(g.cluster, { user: 'frende_app', password: wrongPassword, database: 'frende' });
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
