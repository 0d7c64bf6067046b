// Let's Manifest's checklist (its items: examples/lets-manifest/README.md),
// enforced by the configuration in examples/lets-manifest/ and proven against
// one real, hardened cluster running the example's postgresql.conf.example: TLS
// or no start in production, the SQLAlchemy-style pool (5 + 10 overflow,
// pre-ping, exhaustion handled with a coded timeout), automatic rollback,
// parameterized queries, the dedicated and read-only users with their limits
// and the 30 s statement timeout, a separate test database, audit logging,
// encrypted backups restored for real, failed-login alerts, and the README's
// commands run as they are written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { runAlertsCheck } from '../../src/alerts/check.js';
import { loadAlertsConfigFile, resolveAlertsConfig } from '../../src/alerts/config.js';
import { listBackups } from '../../src/backup/index.js';
import { PolicyError } from '../../src/errors.js';
import { createPool, type WardenPool } from '../../src/pool/pool.js';
import { applyRoles } from '../../src/roles/apply.js';
import { parseRolesFile } from '../../src/roles/roles-file.js';
import { sql } from '../../src/sql/sql.js';
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

const TEAM = 'lets-manifest';
const DB = 'lets_manifest_prod';
const password = canary();
const wrongPassword = canary();
const { logger, lines: logLines } = captureLogger();

let g: GuidelineCluster;
let pool: WardenPool;

/** .env.example with DATABASE_URL pointed here: user, database and parameters as committed. */
function deployedEnv(
  urlParams: Record<string, string | null> = {},
  overrides: Record<string, string> = {},
): Record<string, string> {
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
  return { ...env, DATABASE_URL: url.toString(), SECRET_KEY: canary(), ...overrides };
}

before(async () => {
  g = await startGuidelineCluster({
    hba: [
      `hostssl ${DB} lets_manifest_user,readonly_user 127.0.0.1/32 scram-sha-256`,
      `hostssl ${DB} lets_manifest_user,readonly_user ::1/128 scram-sha-256`,
    ],
    conf: readServerConf(TEAM),
  });
  await g.cluster.createDatabase(DB);
  await g.cluster.createDatabase('lets_manifest_test');
  await g.cluster.queryIn(
    DB,
    `CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), username text NOT NULL UNIQUE,
       created_at timestamptz NOT NULL DEFAULT now());
     INSERT INTO users (username) VALUES ('alice'), ('bob')`,
  );
  const admin = await adminPool(g.cluster, DB);
  try {
    await applyRoles(admin, parseRolesFile(readExample(TEAM, 'roles.yaml'), examplePath(TEAM, 'roles.yaml')));
  } finally {
    await admin.close();
  }
  await prepareLogin(g.cluster, 'lets_manifest_user', password, [DB]);
  pool = await createPool({ env: deployedEnv(), logger });
});

after(async () => {
  await pool?.close();
  await g?.stop();
  for (const secret of [password, wrongPassword]) assertNoCanary(logLines.join('\n'), secret);
});

describe('lets-manifest', () => {
  test('production refuses to start without SSL/TLS', async () => {
    const error = await createPool({ env: deployedEnv({ sslmode: 'disable' }), logger }).then(
      async (p) => {
        await p.close();
        return assert.fail('expected a refusal');
      },
      (e: unknown) => e,
    );
    assert.ok(error instanceof PolicyError, String(error));
    assert.ok(error.violations.some((v) => v.code === 'PGW_POLICY_TLS_DISABLED'));
    assertNoCanary(`${error.message}${error.stack ?? ''}`, password);
  });

  test('pool: size 5 + overflow 10, pre-ping, connect 10 s, command 60 s; statement_timeout 30 s on the server', async () => {
    assert.equal(pool.config.tls.effectiveMode, 'verify-full');
    assert.equal(pool.config.pool.min, 5);
    assert.equal(pool.config.pool.max, 15);
    assert.equal(pool.config.pool.prePingIdleMs, 10_000);
    assert.equal(pool.config.pool.connectionTimeoutMs, 10_000);
    assert.equal(pool.config.pool.acquireTimeoutMs, 10_000);
    assert.equal(pool.config.pool.queryTimeoutMs, 60_000);
    const { rows } = await pool.query<{ t: string; s: string; ssl: boolean }>(
      "SELECT current_setting('statement_timeout') AS t, current_setting('log_statement') AS s, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl",
    );
    assert.deepEqual(rows[0], { t: '30s', s: 'all', ssl: true });
  });

  test('pool exhaustion (more sessions than size + overflow) fails with a coded timeout, then recovers', async () => {
    // DATABASE_POOL_TIMEOUT shortened to 1 s so the test does not wait 10 s; everything else as committed.
    const small = await createPool({ env: deployedEnv({}, { DATABASE_POOL_TIMEOUT: '1' }), logger });
    try {
      let usageHigh = 0;
      small.on('pool-usage-high', () => (usageHigh += 1));
      const held = await Promise.all(Array.from({ length: 15 }, () => small.connect()));
      const [count] = await g.cluster.adminQuery<{ n: number; limit: number }>(
        `SELECT count(*)::int AS n, (SELECT rolconnlimit FROM pg_roles WHERE rolname = 'lets_manifest_user') AS limit
           FROM pg_stat_activity WHERE usename = 'lets_manifest_user' AND backend_type = 'client backend'`,
      );
      // The role's own server-side cap (roles.yaml), which the sessions stay under.
      assert.equal(count?.limit, 20);
      assert.ok((count?.n ?? 0) <= 20, `${count?.n} sessions: connection_limit 20`);
      await assert.rejects(small.query('SELECT 1'), { code: 'PGW_POOL_EXHAUSTED' });
      for (const client of held) client.release();
      assert.equal((await small.query<{ x: number }>('SELECT 1 AS x')).rows[0]?.x, 1);
      assert.ok(usageHigh >= 1, 'pool-usage-high fired');
    } finally {
      await small.close();
    }
  });

  test('automatic rollback on error; parameterized queries make an injection attempt plain data', async () => {
    await assert.rejects(
      pool.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO users (username) VALUES (${'carol'})`);
        throw new Error('request failed');
      }),
      /request failed/,
    );
    const malicious = "'; DROP TABLE users; --";
    const { rows } = await pool.query(
      sql`SELECT id FROM users WHERE username = ${malicious} OR username = ${'carol'}`,
    );
    assert.deepEqual(rows, []);
    assert.equal((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users')).rows[0]?.n, 2);
  });

  test('roles.yaml: dedicated user (limit 20), read-only user, no access to the test database', async () => {
    const client = new pg.Client({
      host: g.cluster.socketDir,
      port: g.cluster.port,
      user: 'postgres',
      database: DB,
    });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, boolean | number>>(`SELECT
        (SELECT rolconnlimit FROM pg_roles WHERE rolname = 'lets_manifest_user') AS user_limit,
        (SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'lets_manifest_user') AS user_privileged,
        has_table_privilege('lets_manifest_user', 'users', 'SELECT,INSERT,UPDATE,DELETE') AS user_rw,
        has_table_privilege('lets_manifest_user', 'users', 'TRUNCATE') AS user_truncate,
        has_schema_privilege('lets_manifest_user', 'public', 'CREATE') AS user_create,
        has_database_privilege('lets_manifest_user', 'lets_manifest_test', 'CONNECT') AS user_test_db,
        has_database_privilege('readonly_user', '${DB}', 'CONNECT') AS ro_connect,
        has_schema_privilege('readonly_user', 'public', 'USAGE') AS ro_usage,
        has_table_privilege('readonly_user', 'users', 'SELECT') AS ro_select,
        has_table_privilege('readonly_user', 'users', 'INSERT') AS ro_insert,
        has_table_privilege('readonly_user', 'users', 'UPDATE') AS ro_update,
        has_table_privilege('readonly_user', 'users', 'DELETE') AS ro_delete,
        has_database_privilege('readonly_user', 'lets_manifest_test', 'CONNECT') AS ro_test_db`);
      assert.deepEqual(rows[0], {
        user_limit: 20,
        user_privileged: false,
        user_rw: true,
        user_truncate: false,
        user_create: false,
        user_test_db: false,
        ro_connect: true,
        ro_usage: true,
        ro_select: true,
        ro_insert: false,
        ro_update: false,
        ro_delete: false,
        ro_test_db: false,
      });
    } finally {
      await client.end();
    }
  });

  test('pgwarden audit: log_statement=all and connection logging in force, nothing failing at or above medium', async () => {
    await assertTeamAudit(TEAM, {
      env: deployedEnv(),
      logger,
      passing: ['log.statement', 'log.connections', 'log.disconnections', 'tls.enabled'],
    });
  });

  test('backups are encrypted and their restoration verified', async () => {
    await assertBackupRestores(g, TEAM, DB);
  });

  test('alerts.yaml: failed login attempts fire', async () => {
    await failLogins(g.cluster, { user: 'lets_manifest_user', password: wrongPassword, database: DB });
    const log = await waitForLog(g.cluster, /password authentication failed for user/, 5);
    const config = resolveAlertsConfig(loadAlertsConfigFile(examplePath(TEAM, 'alerts.yaml')), {
      log: { files: [log] },
      backupDir: join(g.dir, 'backups'),
    });
    const report = await runAlertsCheck({ config, pool, env: {} });
    const status = Object.fromEntries(report.rules.map((r) => [r.rule, r.status]));
    assert.equal(status['auth-failures'], 'fired');
    assert.equal(status['backup-age'], 'ok');
    assertNoCanary(JSON.stringify(report), wrongPassword);
  });
});

describe('lets-manifest: README.md as written', () => {
  test('the README commands run as shipped: roles, key, daily backup verified as latest by a real restore, alerts on the csvlog', async () => {
    const readme = readmeRunner(TEAM);
    assertDefaultsAgree(TEAM, readme);
    const paths = readmePaths(g);
    const [current] = await g.cluster.adminQuery<{ path: string }>(
      "SELECT pg_current_logfile('csvlog') AS path",
    );
    assert.equal(current?.path, 'log/postgresql.csv');
    const vars = {
      ...paths,
      ADMIN_URL: socketUrl(g.cluster, DB),
      BACKUP_URL: socketUrl(g.cluster, DB),
      SCRATCH_URL: socketUrl(g.cluster, 'postgres'),
      MONITOR_URL: verifyFullUrl(g, { user: 'lets_manifest_user', password, database: DB }),
    };
    const secrets = [password, wrongPassword];

    const setup = await readme.run(['setup'], vars, secrets);
    assert.equal(setup.status, 0, setup.stdout + setup.stderr);
    const daily = await readme.run(['daily'], vars, secrets);
    assert.equal(daily.status, 0, daily.stdout + daily.stderr);
    const created = JSON.parse(daily.stdout.split('\n')[0]!) as { id: string; database: string };
    assert.equal(created.database, DB);
    assert.deepEqual(
      listBackups(paths.BACKUP_DIR).backups.map((b) => [b.id, b.verified?.level, b.verified?.ok]),
      [[created.id, 3, true]],
    );

    await failLogins(g.cluster, { user: 'lets_manifest_user', password: wrongPassword, database: DB });
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
