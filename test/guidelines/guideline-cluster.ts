// Shared by the guideline tests (test/guidelines/<team>.test.ts): load a team's
// example files from examples/<team>/, and start the hardened cluster every
// team's production would run on (TLS, SCRAM, hostssl-only rules, connection
// and DDL logging, WAL archiving), so `pgwarden audit` has a fair target.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { AuditReport } from '../../src/audit/report-model.js';
import { runAudit } from '../../src/audit/runner.js';
import { createBackup, generateKeyFile, verifyBackup } from '../../src/backup/index.js';
import { loadSuppressions } from '../../src/audit/suppressions.js';
import type { LoggerLike } from '../../src/logger.js';
import { atOrAbove } from '../../src/audit/severity.js';
import { createPool, type WardenPool } from '../../src/pool/pool.js';
import { Secret } from '../../src/redact/secret.js';
import { scramSha256Verifier } from '../../src/sql/scram-verifier.js';
import {
  createPki,
  resolveServerUser,
  startCluster,
  type Cluster,
  type ConfSettings,
  type Pki,
  type PkiFiles,
} from '../support/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** examples/<team>/<file>, as committed. */
export function examplePath(team: string, file: string): string {
  return join(ROOT, 'examples', team, file);
}

export function readExample(team: string, file: string): string {
  return readFileSync(examplePath(team, file), 'utf8');
}

/** `KEY=value` lines of an .env example (comments and blank lines skipped, no quoting). */
export function parseEnvExample(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not KEY=value: ${line}`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return env;
}

export interface GuidelineCluster {
  cluster: Cluster;
  pki: Pki;
  files: PkiFiles;
  /** A private temporary directory (mode 0700) for keys, backups, CA files; removed by stop(). */
  dir: string;
  stop(): Promise<void>;
}

/**
 * A cluster hardened the way the audit demo does it: TLS (a CA-signed
 * certificate valid for a year), scram-sha-256, TLS ≥ 1.2 with strong
 * ciphers, connection and DDL logging to csvlog, WAL archiving, and
 * pg_hba.conf lines from `hba` (hostssl only, in the teams' examples).
 * `conf` comes last and wins: the teams pass their postgresql.conf.example
 * ({@link readServerConf}), so the server writes the log their alerts.yaml reads.
 */
export async function startGuidelineCluster(options: {
  hba: string[];
  conf?: ConfSettings;
}): Promise<GuidelineCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-guideline-'));
  const archive = join(dir, 'wal-archive');
  mkdirSync(archive, { mode: 0o700 });
  // The server's OS user must reach the archive directory; nothing else here is secret to it.
  chmodSync(dir, 0o711);
  const owner = resolveServerUser();
  if (owner) chownSync(archive, owner.uid, owner.gid);
  const pki = await createPki({ validityDays: 365 });
  const files = pki.writeFiles(join(dir, 'pki'));
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      tls: { pki },
      hba: options.hba,
      conf: {
        password_encryption: 'scram-sha-256',
        ssl_min_protocol_version: 'TLSv1.2',
        // AEAD suites with forward secrecy only (HIGH would leave CBC suites, which tls.ciphers reports).
        ssl_ciphers: 'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL',
        unix_socket_permissions: '0700',
        authentication_timeout: '30s',
        log_connections: true,
        log_disconnections: true,
        log_statement: 'ddl',
        log_min_duration_statement: '1s',
        log_line_prefix: '%m [%p] %q%u@%d %r ',
        logging_collector: true,
        log_destination: 'stderr,csvlog',
        log_directory: 'log',
        log_timezone: 'UTC',
        log_replication_commands: true,
        archive_mode: 'on',
        archive_command: `test ! -f ${archive}/%f && cp %p ${archive}/%f`,
        ...(options.conf ?? {}),
      },
    });
    const preload = ['passwordcheck', 'pgaudit'].filter((lib) =>
      existsSync(join(cluster!.binDir, '..', 'lib', `${lib}.so`)),
    );
    if (preload.length > 0) {
      await cluster.setConf({ shared_preload_libraries: preload.join(',') });
      await cluster.restart();
    }
  } catch (error) {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const started = cluster;
  return {
    cluster: started,
    pki,
    files,
    dir,
    async stop() {
      await started.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A pool as the harness superuser over the unix socket: what `pgwarden roles apply` and backups run as here. */
export function adminPool(cluster: Cluster, database: string): Promise<WardenPool> {
  return createPool({
    host: cluster.socketDir,
    port: cluster.port,
    user: cluster.superuser,
    database,
    sslMode: 'disable',
    env: {},
    environment: 'test',
    purpose: 'admin',
    checkRole: false,
    max: 2,
  });
}

/**
 * Sets a login role's password the way `pgwarden creds rotate` does (a SCRAM
 * verifier computed here, never the plaintext), an expiry a year out, and the
 * grants the audit documentation recommends for auditing as the application.
 */
export async function prepareLogin(
  cluster: Cluster,
  role: string,
  password: string,
  databases: readonly string[],
): Promise<void> {
  const validUntil = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
  const quoted = `"${role.replaceAll('"', '""')}"`;
  await cluster.adminQuery(
    `ALTER ROLE ${quoted} PASSWORD '${scramSha256Verifier(new Secret(password))}' VALID UNTIL '${validUntil}'`,
  );
  await cluster.adminQuery(`GRANT pg_monitor TO ${quoted}`);
  for (const database of databases) {
    await cluster.queryIn(
      database,
      `GRANT SELECT ON pg_catalog.pg_hba_file_rules TO ${quoted};
       GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO ${quoted};
       GRANT SELECT ON pg_catalog.pg_file_settings TO ${quoted};
       GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO ${quoted};`,
    );
  }
}

/** Failing, unsuppressed findings at or above medium: what the guideline tests require to be empty. */
export function failingAtOrAboveMedium(report: AuditReport): string[] {
  return report.findings
    .filter((f) => f.status === 'fail' && !f.suppressed && atOrAbove(f.severity, 'medium'))
    .map((f) => `${f.id} (${f.severity}): ${JSON.stringify(f.objects ?? [])}`);
}

/**
 * Waits until the server's current log file (the first format of
 * log_destination: csvlog, or pyfactor's stderr) shows `pattern` at least
 * `count` times; returns its path.
 */
export async function waitForLog(cluster: Cluster, pattern: RegExp, count: number): Promise<string> {
  const [row] = await cluster.adminQuery<{ path: string }>('SELECT pg_current_logfile() AS path');
  assert.ok(row?.path, 'the logging collector is not on');
  const path = join(cluster.dataDir, row.path);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = readFileSync(path, 'utf8');
    if ((text.match(new RegExp(pattern.source, 'g')) ?? []).length >= count) return path;
    if (Date.now() > deadline) assert.fail(`${path} never showed ${String(pattern)} ×${count}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A console-like logger that keeps every line, so tests can assert no canary reached it. */
export function captureLogger(): { logger: LoggerLike; lines: string[] } {
  const lines: string[] = [];
  const line = (...args: unknown[]): void =>
    void lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  return { logger: { debug: line, info: line, warn: line, error: line }, lines };
}

/** examples/<team>/postgresql.conf.example as harness settings. */
export function readServerConf(team: string): ConfSettings {
  const conf: Record<string, string> = {};
  for (const raw of readExample(team, 'postgresql.conf.example').split('\n')) {
    const text = raw.replace(/#.*/, '').trim();
    if (!text) continue;
    const [key, value] = text.split(/\s*=\s*/, 2) as [string, string];
    conf[key] = value.replace(/^'(.*)'$/, '$1');
  }
  return conf;
}

/**
 * Runs `pgwarden audit` with the team's deployed environment and suppression
 * file, and asserts what every guideline test requires: connected, nothing
 * failing at or above medium, and the checks the guideline names passing.
 */
export async function assertTeamAudit(
  team: string,
  options: {
    env: Record<string, string>;
    logger: LoggerLike;
    passing: readonly string[];
    suppressionsRequired?: boolean;
  },
): Promise<AuditReport> {
  const report = await runAudit({
    env: options.env,
    logger: options.logger,
    suppressions: loadSuppressions(
      examplePath(team, '.pgwarden-audit.yaml'),
      options.suppressionsRequired ?? true,
    ),
  });
  assert.ok(report.connection.ok, JSON.stringify(report.connection));
  assert.deepEqual(failingAtOrAboveMedium(report), []);
  for (const id of options.passing) {
    assert.equal(report.findings.find((f) => f.id === id)?.status, 'pass', id);
  }
  return report;
}

/** Makes `count` real login attempts with a wrong password; each must be refused with 28P01. */
export async function failLogins(
  cluster: Cluster,
  login: { user: string; password: string; database: string },
  count = 5,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const bad = new pg.Client({ connectionString: cluster.url(login), ssl: { rejectUnauthorized: false } });
    await assert.rejects(bad.connect(), { code: '28P01' });
  }
}

/**
 * Diagnoses a step that does not end: every `everyMs` until stopped, writes
 * what the cluster's sessions are waiting on to stderr (the test reporter
 * prints a failed file's stderr). A backup test once hung in CI until its
 * file timed out, with nothing to show where.
 */
export function watchdog(cluster: Cluster, label: string, everyMs = 45_000): () => void {
  const started = Date.now();
  const timer = setInterval(() => {
    const client = new pg.Client({
      host: cluster.socketDir,
      port: cluster.port,
      user: cluster.superuser,
      database: 'postgres',
      connectionTimeoutMillis: 5_000,
    });
    client
      .connect()
      .then(() =>
        client.query(
          'SELECT pid, usename, datname, backend_type, state, wait_event_type, wait_event, left(query, 100) AS query FROM pg_stat_activity WHERE pid <> pg_backend_pid()',
        ),
      )
      .then(
        ({ rows }) =>
          process.stderr.write(
            `watchdog: ${label} still running after ${Math.round((Date.now() - started) / 1000)} s; sessions: ${JSON.stringify(rows)}\n`,
          ),
        (error: unknown) =>
          process.stderr.write(
            `watchdog: ${label} still running; the cluster did not answer: ${String(error)}\n`,
          ),
      )
      .finally(() => void client.end().catch(() => undefined));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * An encrypted backup of `database` (a new key file, 30 days' retention),
 * then `verify --level 3`: restored into a scratch database, row counts compared.
 */
export async function assertBackupRestores(
  g: GuidelineCluster,
  team: string,
  database: string,
): Promise<void> {
  const dir = join(g.dir, 'backups');
  mkdirSync(dir, { mode: 0o700 });
  const keyFile = join(g.dir, `${team}-backup.key`);
  generateKeyFile(keyFile);
  const connection = {
    host: g.cluster.socketDir,
    port: g.cluster.port,
    user: 'postgres',
    database,
    sslMode: 'disable' as const,
  };
  const stop = watchdog(g.cluster, `${team} backup and verify`);
  try {
    const backup = await createBackup({ dir, keys: { keyFile }, connection, env: {}, keepDays: 30 });
    const verified = await verifyBackup({
      target: backup.id,
      dir,
      level: 3,
      keys: { keyFile },
      connection,
      env: {},
    });
    assert.ok(verified.ok, JSON.stringify(verified.checks));
  } finally {
    stop();
  }
}

/** The harness superuser over the unix socket, as a URL: what a DBA's cron job on the database host uses. */
export function socketUrl(cluster: Cluster, database: string): string {
  const params = new URLSearchParams({
    host: cluster.socketDir,
    port: String(cluster.port),
    user: cluster.superuser,
  });
  return `postgresql:///${encodeURIComponent(database)}?${params}`;
}

/** A login over TCP with verify-full TLS against the cluster's CA. */
export function verifyFullUrl(
  g: GuidelineCluster,
  login: { user: string; password: string; database: string },
): string {
  return g.cluster
    .url({ ...login, params: { sslmode: 'verify-full', sslrootcert: g.files.caCertPath } })
    .replace('127.0.0.1', 'localhost');
}

/**
 * Where a README's path variables point in a test: fresh directories under
 * the cluster's private one, and the log directory the example's
 * postgresql.conf.example makes the server write to.
 */
export function readmePaths(g: GuidelineCluster): {
  BACKUP_DIR: string;
  PGWARDEN_HOME: string;
  PGLOG: string;
} {
  const base = join(g.dir, 'readme');
  mkdirSync(base, { recursive: true, mode: 0o700 });
  return {
    BACKUP_DIR: join(base, 'backups'),
    PGWARDEN_HOME: join(base, 'pgwarden'),
    PGLOG: join(g.cluster.dataDir, 'log'),
  };
}
