// pgwarden alerts check against real clusters and their real server logs, in the
// three formats PostgreSQL 15 writes at once (stderr, csvlog, jsonlog): six failed
// password logins, a plaintext session and a plaintext attempt refused by pg_hba.conf
// on one cluster; only TLS sessions on the other. Webhooks go to a local receiver.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { runAlertsCheck, type AlertsReport } from '../../src/alerts/check.js';
import { resolveAlertsConfig, type AlertsConfigLayer } from '../../src/alerts/config.js';
import { formatAlertsReport } from '../../src/alerts/format-report.js';
import type { RuleId, RuleResult } from '../../src/alerts/rule-result.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  type Pki,
  type PkiFiles,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
const wrongPassword = canary();
const hookSecret = canary();
const hookToken = `hooktoken-${randomBytes(12).toString('hex')}`;
const SECRETS = [password, wrongPassword, hookSecret, hookToken];

const LOG_CONF = {
  log_connections: true,
  logging_collector: true,
  log_destination: 'stderr,csvlog,jsonlog',
  log_directory: 'log',
};
// TLS for everyone; app may also connect in clear, so a plaintext session can be provoked.
const HBA = ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostnossl all app 127.0.0.1/32 scram-sha-256'];

type LogFiles = Record<'stderr' | 'csvlog' | 'jsonlog', string>;

let pki: Pki;
let files: PkiFiles;
let dir: string;
let emptyHome: string;
let attacked: Cluster;
let quiet: Cluster;
let attackedLogs: LogFiles;
let quietLogs: LogFiles;

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: cliEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
  });
  for (const secret of SECRETS) assertNoCanary(result.stdout + result.stderr, secret);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = withoutConnectionVariables(['PGWARDEN_']);
  return { ...clean, PGWARDEN_HOME: emptyHome, ...env };
}

/** Like run(), without blocking the event loop: the webhook receiver lives in this process. */
function runAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env: cliEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      for (const secret of SECRETS) assertNoCanary(stdout + stderr, secret);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

const monitorUrl = (cluster: Cluster, sslmode = 'require'): string =>
  cluster.url({ user: 'mon', password, params: { sslmode } });

function rule(report: AlertsReport, id: RuleId): RuleResult {
  const found = report.rules.find((r) => r.rule === id);
  assert.ok(found, id);
  return found;
}

async function attempt(cluster: Cluster, user: string, secret: string, ssl: boolean): Promise<string> {
  const client = new pg.Client({
    connectionString: cluster.url({ user, password: secret }),
    ssl: ssl ? { rejectUnauthorized: false } : false,
  });
  try {
    await client.connect();
    await client.end();
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

async function logFiles(cluster: Cluster): Promise<LogFiles> {
  const [row] = await cluster.adminQuery<LogFiles>(
    "SELECT pg_current_logfile('stderr') AS stderr, pg_current_logfile('csvlog') AS csvlog, pg_current_logfile('jsonlog') AS jsonlog",
  );
  assert.ok(row?.stderr && row.csvlog && row.jsonlog, JSON.stringify(row));
  return {
    stderr: join(cluster.dataDir, row.stderr),
    csvlog: join(cluster.dataDir, row.csvlog),
    jsonlog: join(cluster.dataDir, row.jsonlog),
  };
}

/** The logging collector writes asynchronously: wait until every file shows what was provoked. */
async function waitForLogs(logs: LogFiles, patterns: readonly [RegExp, number][]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const path of Object.values(logs)) {
    for (;;) {
      const text = readFileSync(path, 'utf8');
      if (patterns.every(([pattern, n]) => (text.match(pattern) ?? []).length >= n)) break;
      if (Date.now() > deadline) assert.fail(`${path} never showed the provoked events:\n${text}`);
      await delay(50);
    }
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-alerts-'));
  emptyHome = join(dir, 'empty-home');
  mkdirSync(emptyHome);
  pki = await createPki({ validityDays: 365 });
  files = pki.writeFiles(join(dir, 'pki'));
  [attacked, quiet] = await Promise.all([
    startCluster({ tls: { pki }, conf: LOG_CONF, hba: HBA }),
    startCluster({ tls: { pki }, conf: LOG_CONF, hba: HBA }),
  ]);
  for (const cluster of [attacked, quiet]) {
    await cluster.createRole('app', { password });
    await cluster.createRole('mon', { password, inRoles: ['pg_read_all_stats'] });
  }
  for (let i = 0; i < 6; i++) assert.equal(await attempt(attacked, 'app', wrongPassword, true), '28P01');
  assert.equal(await attempt(attacked, 'app', password, false), 'ok');
  // mon has no hostnossl line: refused with "no encryption".
  assert.equal(await attempt(attacked, 'mon', password, false), '28000');
  assert.equal(await attempt(quiet, 'app', password, true), 'ok');
  attackedLogs = await logFiles(attacked);
  quietLogs = await logFiles(quiet);
  await waitForLogs(attackedLogs, [
    [/password authentication failed for user/g, 6],
    [/no pg_hba\.conf entry for host/g, 1],
  ]);
  await waitForLogs(quietLogs, [[/connection authorized: user=app/g, 1]]);
});

after(async () => {
  await Promise.all([attacked?.stop(), quiet?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('alerts check on a cluster under attack', () => {
  for (const [format, logFormat] of [
    ['stderr', 'stderr'],
    ['csvlog', 'auto'],
    ['jsonlog', 'auto'],
  ] as const) {
    test(`${format} log: failed logins and attempts without TLS fire, exit 1`, () => {
      const { status, stdout } = run([
        'alerts',
        'check',
        '--json',
        '--url',
        monitorUrl(attacked),
        '--log',
        attackedLogs[format],
        '--log-format',
        logFormat,
      ]);
      assert.equal(status, 1, stdout);
      const report = JSON.parse(stdout) as AlertsReport;
      assert.equal(report.ok, false);
      assert.equal(report.fired, 2);
      assert.equal(report.label, `127.0.0.1:${attacked.port}/postgres`);
      assert.deepEqual(
        report.logs.map((l) => [l.format, l.unparsed]),
        [[format, 0]],
      );

      const auth = rule(report, 'auth-failures');
      assert.equal(auth.status, 'fired');
      assert.equal(auth.observed, 6);
      assert.equal(auth.threshold, 5);
      assert.equal(auth.window, '5m');
      assert.equal(auth.severity, 'critical');
      assert.deepEqual(auth.details?.byUser, { app: 6 });

      const plain = rule(report, 'unencrypted-connections');
      assert.equal(plain.status, 'fired');
      assert.equal(plain.observed, 2);
      assert.equal(plain.details?.sessions, 1);
      assert.equal(plain.details?.refused, 1);
      assert.deepEqual(plain.details?.byUser, { app: 1, mon: 1 });

      assert.equal(rule(report, 'slow-queries').status, 'ok');
      const cert = rule(report, 'server-certificate');
      assert.equal(cert.status, 'ok');
      assert.ok(cert.observed! > 360 && cert.observed! <= 365, String(cert.observed));
      for (const id of ['credentials-expiry', 'backup-age', 'pool-usage'] as const) {
        assert.equal(rule(report, id).status, 'skipped');
        assert.ok(rule(report, id).reason);
      }
    });
  }

  test('the text report is readable and names what fired', () => {
    const { status, stdout } = run([
      'alerts',
      'check',
      '--url',
      monitorUrl(attacked),
      '--log',
      attackedLogs.stderr,
    ]);
    assert.equal(status, 1);
    assert.match(
      stdout,
      /^✗ FIRED +auth-failures +CRITICAL 6 failed authentication\(s\) in the last 5m \(threshold 5\): app ×6\./m,
    );
    assert.match(
      stdout,
      /^✗ FIRED +unencrypted-connections +CRITICAL 2 connection attempt\(s\) without TLS/m,
    );
    assert.match(stdout, /^- skipped +backup-age +no backup directory given/m);
    assert.match(stdout, /^2 alert\(s\) fired, 2 ok, 3 skipped\.$/m);
  });

  test('thresholds from a YAML file, and flags over the file', () => {
    const config = join(dir, 'alerts.yaml');
    writeFileSync(
      config,
      [
        'label: orders-db',
        'log:',
        `  files: [${JSON.stringify(attackedLogs.jsonlog)}]`,
        'rules:',
        '  auth-failures: { threshold: 7, window: 10m }',
        '  unencrypted-connections: { enabled: false }',
        '',
      ].join('\n'),
    );
    const fromFile = run(['alerts', 'check', '--json', '--config', config, '--url', monitorUrl(attacked)]);
    assert.equal(fromFile.status, 0, fromFile.stdout);
    const report = JSON.parse(fromFile.stdout) as AlertsReport;
    assert.equal(report.label, 'orders-db');
    const auth = rule(report, 'auth-failures');
    assert.deepEqual([auth.status, auth.observed, auth.threshold, auth.window], ['ok', 6, 7, '10m']);
    assert.equal(rule(report, 'unencrypted-connections').status, 'skipped');
    assert.match(rule(report, 'unencrypted-connections').reason!, /disabled/);

    const overridden = run([
      'alerts',
      'check',
      '--json',
      '--config',
      config,
      '--url',
      monitorUrl(attacked),
      '--auth-failures',
      '6',
    ]);
    assert.equal(overridden.status, 1);
    assert.equal(rule(JSON.parse(overridden.stdout), 'auth-failures').status, 'fired');
  });

  test('the webhook gets one JSON document per fired alert, with Basic auth from the URL', async () => {
    const receiver = await WebhookReceiver.start();
    try {
      const url = receiver.url(`/hooks/${hookToken}`, { user: 'pgwarden', password: hookSecret });
      const { status, stdout, stderr } = await runAsync(
        ['alerts', 'check', '--json', '--url', monitorUrl(attacked), '--log', attackedLogs.csvlog],
        { PGWARDEN_ALERTS_WEBHOOK: url },
      );
      assert.equal(status, 1, stderr);
      const report = JSON.parse(stdout) as AlertsReport & { webhook: { target: string; sent: number } };
      assert.deepEqual(report.webhook, {
        target: `http://127.0.0.1:${receiver.port}`,
        sent: 2,
        failed: 0,
        deliveries: [
          { rule: 'auth-failures', ok: true, status: 200 },
          { rule: 'unencrypted-connections', ok: true, status: 200 },
        ],
      });
      assert.equal(receiver.requests.length, 2);
      const expectedAuth = `Basic ${Buffer.from(`pgwarden:${hookSecret}`).toString('base64')}`;
      for (const request of receiver.requests) {
        assert.equal(request.method, 'POST');
        assert.equal(request.path, `/hooks/${hookToken}`);
        assert.equal(request.headers.authorization, expectedAuth);
        assert.equal(request.headers['content-type'], 'application/json');
        for (const secret of SECRETS) assertNoCanary(request.raw, secret);
      }
      const [first, second] = receiver.requests.map((r) => r.json as Record<string, unknown>);
      assert.deepEqual(Object.keys(first!).sort(), [
        'firedAt',
        'host',
        'observed',
        'rule',
        'severity',
        'source',
        'status',
        'summary',
        'threshold',
        'title',
        'unit',
        'version',
        'window',
      ]);
      assert.equal(first!.rule, 'auth-failures');
      assert.equal(first!.observed, 6);
      assert.equal(first!.threshold, 5);
      assert.equal(first!.window, '5m');
      assert.equal(first!.severity, 'critical');
      assert.equal(first!.host, `127.0.0.1:${attacked.port}/postgres`);
      assert.equal(second!.rule, 'unencrypted-connections');
      assert.equal(second!.observed, 2);
    } finally {
      await receiver.stop();
    }
  });

  test('a failing webhook is a coded warning, not a crash; the alerts still exit 1', async () => {
    const receiver = await WebhookReceiver.start();
    receiver.status = 500;
    const args = ['alerts', 'check', '--json', '--url', monitorUrl(attacked), '--log', attackedLogs.stderr];
    try {
      const url = receiver.url(`/hooks/${hookToken}`);
      const failing = await runAsync([...args, '--webhook', url]);
      assert.equal(failing.status, 1);
      assert.match(
        failing.stderr,
        /warning PGW_ALERTS_WEBHOOK_FAILED: Webhook http:\/\/127\.0\.0\.1:\d+: HTTP 500/,
      );
      const report = JSON.parse(failing.stdout) as { webhook: { sent: number; failed: number } };
      assert.deepEqual([report.webhook.sent, report.webhook.failed], [0, 2]);
      assert.equal(receiver.requests.length, 2);
    } finally {
      await receiver.stop();
    }
    // Now nothing listens on that port.
    const down = run([...args, '--webhook', receiver.url(`/hooks/${hookToken}`)]);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /PGW_ALERTS_WEBHOOK_FAILED: .*\(ECONNREFUSED\)/);
    assert.equal((JSON.parse(down.stdout) as { webhook: { failed: number } }).webhook.failed, 2);
  });
});

describe('alerts check on a quiet cluster', () => {
  test('only TLS sessions: nothing fires, exit 0, and skipped rules stay skipped', () => {
    for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
      const { status, stdout } = run([
        'alerts',
        'check',
        '--json',
        '--url',
        monitorUrl(quiet),
        '--log',
        quietLogs[format],
      ]);
      assert.equal(status, 0, stdout);
      const report = JSON.parse(stdout) as AlertsReport;
      assert.equal(report.ok, true);
      assert.equal(report.fired, 0);
      const statuses = Object.fromEntries(report.rules.map((r) => [r.rule, r.status]));
      assert.deepEqual(statuses, {
        'auth-failures': 'ok',
        'unencrypted-connections': 'ok',
        'slow-queries': 'ok',
        'server-certificate': 'ok',
        'credentials-expiry': 'skipped',
        'backup-age': 'skipped',
        'pool-usage': 'skipped',
      });
      assert.equal(rule(report, 'auth-failures').observed, 0);
      assert.equal(rule(report, 'unencrypted-connections').observed, 0);
    }
  });

  test('without a log the log rules are skipped with the reason, never ok', async () => {
    const report = await runAlertsCheck({
      connection: { url: monitorUrl(quiet) },
      env: { PGWARDEN_HOME: emptyHome },
    });
    for (const id of ['auth-failures', 'unencrypted-connections'] as const) {
      assert.equal(rule(report, id).status, 'skipped');
      assert.match(rule(report, id).reason!, /no server log given: pass --log FILE/);
    }
    assert.equal(report.skipped, 5);
  });
});

describe('database rules', () => {
  test('a query running past the threshold fires slow-queries', async () => {
    const sleeper = new pg.Client({
      connectionString: quiet.url({ user: 'app', password }),
      ssl: { rejectUnauthorized: false },
    });
    await sleeper.connect();
    const pid = (await sleeper.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // An escape sequence in the query text must not reach the terminal as one.
    const text = 'SELECT /* \u001b[2J */ pg_sleep(60)';
    const sleeping = sleeper.query(text).catch(() => undefined);
    try {
      const deadline = Date.now() + 20_000;
      while (
        (
          await quiet.adminQuery(
            "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND now() - query_start > interval '300 ms'",
            [pid],
          )
        ).length === 0
      ) {
        assert.ok(Date.now() < deadline, 'pg_sleep never ran');
        await delay(50);
      }
      const config = resolveAlertsConfig({ rules: { 'slow-queries': { threshold: '300ms' } } });
      const report = await runAlertsCheck({ config, connection: { url: monitorUrl(quiet) }, env: {} });
      const slow = rule(report, 'slow-queries');
      assert.equal(slow.status, 'fired', slow.summary);
      assert.equal(slow.threshold, 0.3);
      assert.ok(slow.observed! >= 0.3);
      const queries = slow.details?.queries as { pid: number; query: string; user: string }[];
      assert.deepEqual(
        queries.filter((q) => q.pid === pid).map((q) => [q.user, q.query]),
        [['app', text]],
      );
      // The text report lists the offending sessions (docs/alerts.md), neutralised.
      const lines = formatAlertsReport(report).split('\n');
      const session = lines.find((l) => l.includes(`pid ${pid}  `));
      assert.ok(session, lines.join('\n'));
      assert.match(
        session,
        /^ +pid \d+ {2}app@postgres {2}\d[\d.]*m?s {2}.*SELECT \/\* \\x1b\[2J \*\/ pg_sleep\(60\)$/,
      );
      assert.ok(lines.indexOf(session) > lines.findIndex((l) => /FIRED +slow-queries/.test(l)));
      assert.ok(!formatAlertsReport(report).includes('\u001b'), 'no raw escape character');
    } finally {
      await quiet.adminQuery('SELECT pg_cancel_backend($1)', [pid]);
      await sleeping;
      await sleeper.end();
    }
  });

  test('server certificate: within the threshold fires; an expired one fires as critical', async () => {
    const within = await runAlertsCheck({
      config: resolveAlertsConfig({ rules: { 'server-certificate': { days: 400 } } }),
      connection: { url: monitorUrl(quiet) },
      env: {},
    });
    const cert = rule(within, 'server-certificate');
    assert.equal(cert.status, 'fired');
    assert.equal(cert.severity, 'warning');
    assert.match(String(cert.details?.subject), /CN=localhost/);

    // On the attacked cluster: a plaintext session would spoil the quiet one's log.
    const plain = await runAlertsCheck({
      connection: { url: attacked.url({ user: 'app', password, params: { sslmode: 'disable' } }) },
      env: {},
    });
    assert.equal(rule(plain, 'server-certificate').status, 'skipped');
    assert.match(rule(plain, 'server-certificate').reason!, /not encrypted \(sslmode disable\)/);

    await quiet.setTls({ pki, certificate: 'expired' });
    try {
      const unverified = await runAlertsCheck({ connection: { url: monitorUrl(quiet, 'require') }, env: {} });
      const expired = rule(unverified, 'server-certificate');
      assert.equal(expired.status, 'fired');
      assert.equal(expired.severity, 'critical');
      assert.ok(expired.observed! < 0 && expired.observed! >= -2, String(expired.observed));

      const verified = await runAlertsCheck({
        connection: {
          url: quiet.url({
            user: 'mon',
            password,
            params: { sslmode: 'verify-full', sslrootcert: files.caCertPath },
          }),
        },
        env: {},
      });
      assert.equal(verified.connection.error?.code, 'PGW_TLS_CERT_EXPIRED');
      assert.equal(verified.ok, false);
      const refused = rule(verified, 'server-certificate');
      assert.equal(refused.status, 'fired');
      assert.equal(refused.severity, 'critical');
      assert.match(refused.summary, /has expired: the TLS handshake refused it/);
      assert.equal(rule(verified, 'slow-queries').status, 'skipped');
      assert.match(rule(verified, 'slow-queries').reason!, /could not be reached: \[PGW_TLS_CERT_EXPIRED\]/);
    } finally {
      await quiet.setTls({ pki });
    }
  });

  test('an unreachable database is exit 1 with the coded error; --offline skips the database rules', () => {
    const closed = monitorUrl(quiet).replace(`:${quiet.port}/`, ':1/');
    const down = run(['alerts', 'check', '--json', '--url', closed]);
    assert.equal(down.status, 1);
    const report = JSON.parse(down.stdout) as AlertsReport;
    assert.equal(report.connection.error?.code, 'PGW_CONN_REFUSED');
    assert.equal(report.label, '127.0.0.1:1/postgres');
    assert.equal(rule(report, 'slow-queries').status, 'skipped');

    const offline = run(['alerts', 'check', '--json', '--offline', '--log', quietLogs.jsonlog]);
    assert.equal(offline.status, 0);
    const result = JSON.parse(offline.stdout) as AlertsReport;
    assert.equal(result.connection.attempted, false);
    assert.match(rule(result, 'server-certificate').reason!, /offline/);
    assert.equal(rule(result, 'auth-failures').status, 'ok');
  });
});

describe('credentials-expiry', () => {
  const check = (home: string) =>
    runAlertsCheck({ connection: false, env: { PGWARDEN_HOME: home } }).then((r) =>
      rule(r, 'credentials-expiry'),
    );
  const store = (environments: Record<string, unknown>) =>
    `${JSON.stringify({ version: 1, environments })}\n`;
  const inDays = (days: number) =>
    new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');

  test('fires within 14 days, ok beyond, skipped without or with an invalid file', async () => {
    const home = join(dir, 'home-creds');
    mkdirSync(home);
    const path = join(home, 'credentials.json');

    assert.match((await check(home)).reason!, /credentials\.json does not exist/);

    writeFileSync(
      path,
      store({ prod: { expires_at: inDays(3) }, staging: { expires_at: inDays(60) }, dev: {} }),
    );
    const soon = await check(home);
    assert.equal(soon.status, 'fired');
    assert.ok(soon.observed! >= 2.9 && soon.observed! <= 3, String(soon.observed));
    assert.match(soon.summary, /Credentials of prod \(2\.9 day\(s\) left\) expire within 14 days/);
    assert.deepEqual(soon.details?.withoutExpiry, ['dev']);

    writeFileSync(path, store({ staging: { expires_at: inDays(60) } }));
    const later = await check(home);
    assert.equal(later.status, 'ok');

    writeFileSync(path, store({ prod: { expires_at: inDays(-1) } }));
    const expired = await check(home);
    assert.equal(expired.status, 'fired');
    assert.equal(expired.severity, 'critical');

    writeFileSync(path, store({ prod: {} }));
    assert.match((await check(home)).reason!, /no environment .* records expires_at/);

    writeFileSync(path, JSON.stringify({ version: 1, environments: { prod: { password: 'x' } } }));
    const invalid = await check(home);
    assert.equal(invalid.status, 'skipped');
    assert.match(invalid.reason!, /is invalid: .*secret-looking key/);
  });
});

describe('backup-age', () => {
  test('reads the manifests pgwarden backup writes: fresh is ok, old or none fires', async (t) => {
    const backupDir = join(dir, 'backups');
    const emptyDir = join(dir, 'no-backups');
    mkdirSync(emptyDir, { mode: 0o700 });
    const { createBackup, generateKeyFile } = await import('../../src/backup/index.js');
    const keyFile = join(dir, 'backup.key');
    generateKeyFile(keyFile);
    try {
      await createBackup({
        dir: backupDir,
        keys: { keyFile },
        connection: { url: monitorUrl(quiet) },
        env: {},
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'PGW_BACKUP_TOOL_MISSING')
        return t.skip('pg_dump is not installed');
      throw error;
    }
    const age = (layer: AlertsConfigLayer) =>
      runAlertsCheck({ config: resolveAlertsConfig(layer), connection: false, env: {} }).then((r) =>
        rule(r, 'backup-age'),
      );
    const fresh = await age({ backupDir });
    assert.equal(fresh.status, 'ok', fresh.summary);
    assert.equal(fresh.threshold, 26);
    assert.ok(fresh.observed! >= 0 && fresh.observed! < 1);
    assert.deepEqual(
      (fresh.details?.databases as { database: string }[]).map((d) => d.database),
      ['postgres'],
    );

    const old = await age({ backupDir, rules: { 'backup-age': { maxAge: '1ms' } } });
    assert.equal(old.status, 'fired');
    assert.match(old.summary, /The newest backup of postgres is .* old \(threshold 1\.00ms\)/);

    const none = await age({ backupDir: emptyDir });
    assert.equal(none.status, 'fired');
    assert.match(none.summary, /No usable backup/);

    const cli = run([
      'alerts',
      'check',
      '--json',
      '--offline',
      '--backup-dir',
      backupDir,
      '--backup-max-age',
      '1ms',
    ]);
    assert.equal(cli.status, 1);
    assert.equal(rule(JSON.parse(cli.stdout), 'backup-age').status, 'fired');
  });
});

describe('usage errors exit 2 with a coded message', () => {
  test('bad flags, a bad config key, an unreadable log, a bad webhook URL', () => {
    const cases: [string[], RegExp][] = [
      [['--auth-failures', '0'], /PGW_CLI_USAGE: --auth-failures "0"/],
      [['--slow-query', '5'], /PGW_CLI_USAGE: --slow-query "5" is not a duration/],
      [['--disable', 'nope'], /PGW_CLI_USAGE: --disable "nope" is not one of auth-failures/],
      [
        ['--log', join(dir, 'missing.log')],
        /PGW_ALERTS_INPUT_UNREADABLE: The server log .*missing\.log cannot be read \(ENOENT\)/,
      ],
      [['--webhook', 'ftp://example.com/x'], /PGW_ALERTS_CONFIG_INVALID: --webhook uses ftp:/],
      [
        ['--webhook', `http://u:${hookSecret}@example.com/x`],
        /PGW_ALERTS_CONFIG_INVALID: --webhook points the webhook receiver at plain http:\/\/example\.com/,
      ],
    ];
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'rules:\n  auth-failures: { treshold: 3 }\n');
    cases.push([
      ['--config', config],
      /PGW_ALERTS_CONFIG_INVALID: .*bad\.yaml is invalid: rules\.auth-failures: .*treshold/,
    ]);
    for (const [args, pattern] of cases) {
      const { status, stderr } = run(['alerts', 'check', '--offline', ...args]);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, pattern);
    }
  });
});
