// pgwarden audit, check by check: for every check id one server (or client)
// configuration that makes it fail and one that makes it pass, on two real
// clusters ("insecure" and a "hardened" reference) plus toggled states.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { CHECK_CATALOG, CHECK_IDS } from '../../src/audit/catalog.js';
import { formatReport, REPORT_FORMATS } from '../../src/audit/report/format.js';
import type { AuditReport } from '../../src/audit/report-model.js';
import { runAudit, type AuditOptions } from '../../src/audit/runner.js';
import { atOrAbove } from '../../src/audit/severity.js';
import { SERVER_VERSIONS } from '../../src/audit/server-versions.js';
import { assertNoCanary, canary } from '../support/index.js';
import { INSECURE_PASSWORD, sqlIn, startFixtures, versionTableFor, type Fixtures } from './audit-fixtures.js';

const appPassword = canary();
const replicationPassword = canary();
let fx: Fixtures;
let table: Awaited<ReturnType<typeof versionTableFor>>;
/** Reports by scenario, each computed once. */
const reports = new Map<string, AuditReport>();

function status(report: AuditReport, id: string): string {
  const finding = report.findings.find((f) => f.id === id);
  assert.ok(finding, `no finding ${id}`);
  return finding.status;
}

/** Every output format of every report must be free of the secrets. */
function assertClean(report: AuditReport): void {
  for (const format of REPORT_FORMATS) {
    const text = formatReport(report, format);
    for (const secret of [appPassword, replicationPassword, INSECURE_PASSWORD]) assertNoCanary(text, secret);
  }
}

async function audit(name: string, options: AuditOptions): Promise<AuditReport> {
  const report = await runAudit({ versionTable: table, ...options });
  assertClean(report);
  reports.set(name, report);
  return report;
}

/** Opens plaintext sessions on the insecure cluster: idle, idle in a transaction, running a long statement. */
async function openSessions(count: number): Promise<{ clients: pg.Client[]; sleeper: Promise<unknown> }> {
  const clients: pg.Client[] = [];
  for (let i = 0; i < count; i++) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: fx.insecure.port,
      user: 'app',
      database: 'postgres',
      ssl: false,
    });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
  }
  await clients[0]!.query('BEGIN; SELECT 1');
  const sleeper = clients[1]!.query('SELECT pg_sleep(120)').catch(() => undefined);
  // Wait until the sleep is visible as active.
  for (let i = 0; i < 100; i++) {
    const rows = await fx.insecure.adminQuery(
      "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(120)%'",
    );
    if (rows.length > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { clients, sleeper };
}

before(async () => {
  fx = await startFixtures(appPassword);
  table = await versionTableFor(fx.insecure);
  const sessions = await openSessions(16);
  try {
    await audit('insecure', {
      ...fx.insecureApp,
      thresholds: { idleInTransactionSeconds: 0, longRunningSeconds: 0 },
    });
  } finally {
    await fx.insecure.adminQuery(
      "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%' AND pid <> pg_backend_pid()",
    );
    await sessions.sleeper;
    await Promise.all(sessions.clients.map((c) => c.end().catch(() => undefined)));
  }
  await audit('hardened', fx.hardenedApp);
  await audit('hardened-admin', fx.hardenedAdmin);
});

after(async () => {
  await fx?.stop();
});

/** Scenarios that need a second server state; each sets it up, audits and restores. */
const SCENARIOS: Record<string, () => Promise<AuditReport>> = {
  async 'cert-expired'() {
    await fx.hardened.setTls({ pki: fx.pki, certificate: 'expired' });
    try {
      return await audit('cert-expired', fx.hardenedApp);
    } finally {
      await fx.hardened.setTls({ pki: fx.pki });
    }
  },
  async 'cert-untrusted'() {
    await fx.hardened.setTls({ pki: fx.pki, certificate: 'untrustedServer' });
    try {
      return await audit('cert-untrusted', fx.hardenedApp);
    } finally {
      await fx.hardened.setTls({ pki: fx.pki });
    }
  },
  async 'cert-wrong-host'() {
    await fx.hardened.setTls({ pki: fx.pki, certificate: 'wrongHost' });
    try {
      return await audit('cert-wrong-host', fx.hardenedApp);
    } finally {
      await fx.hardened.setTls({ pki: fx.pki });
    }
  },
  async 'cert-weak'() {
    const { sha1SelfSigned } = await import('./audit-weak-cert.js');
    await fx.hardened.setTls(await sha1SelfSigned());
    try {
      return await audit('cert-weak', fx.hardenedApp);
    } finally {
      await fx.hardened.setTls({ pki: fx.pki });
    }
  },
  async 'hba-errors'() {
    const file = join(fx.insecure.dataDir, 'pg_hba.conf');
    const original = readFileSync(file, 'utf8');
    // Written behind the server's back and never reloaded: pg_hba_file_rules reads the file itself.
    writeFileSync(file, `${original}host all all 127.0.0.1/32 no-such-method\n`);
    try {
      return await audit('hba-errors', fx.insecureApp);
    } finally {
      writeFileSync(file, original);
    }
  },
  async 'listen-all'() {
    // Pending until a restart that never comes: the test server keeps listening on loopback only.
    await fx.insecure.adminQuery("ALTER SYSTEM SET listen_addresses = '*'");
    try {
      return await audit('listen-all', fx.insecureApp);
    } finally {
      await fx.insecure.adminQuery('ALTER SYSTEM RESET listen_addresses');
    }
  },
  async 'end-of-life'() {
    return audit('end-of-life', { ...fx.hardenedApp, now: new Date('2100-01-01T00:00:00Z') });
  },
  async 'outdated-minor'() {
    return audit('outdated-minor', {
      ...fx.hardenedApp,
      versionTable: await versionTableFor(fx.hardened, 1),
    });
  },
  async 'inactive-slot'() {
    await fx.insecure.adminQuery("SELECT pg_create_physical_replication_slot('forgotten_standby')");
    try {
      return await audit('inactive-slot', fx.insecureApp);
    } finally {
      await fx.insecure.adminQuery("SELECT pg_drop_replication_slot('forgotten_standby')");
    }
  },
  async 'primary-conninfo'() {
    await fx.insecure.setConf({
      primary_conninfo: `host=primary.example port=5432 user=replicator password=${replicationPassword} sslmode=prefer`,
    });
    try {
      return await audit('primary-conninfo', fx.insecureApp);
    } finally {
      await fx.insecure.setConf({ primary_conninfo: '' });
    }
  },
  async 'env-password-in-production'() {
    const { password: _p, ...rest } = fx.hardenedApp;
    return audit('env-password-in-production', { ...rest, env: { ...rest.env, DB_PASSWORD: appPassword } });
  },
  async 'archiver-failing'() {
    await fx.hardened.setConf({ archive_command: 'false' });
    await fx.hardened.adminQuery(
      'CREATE TABLE wal_filler (id int); INSERT INTO wal_filler SELECT generate_series(1, 1000); SELECT pg_switch_wal()',
    );
    for (let i = 0; i < 200; i++) {
      const [row] = await fx.hardened.adminQuery<{ failed: string }>(
        'SELECT failed_count AS failed FROM pg_stat_archiver',
      );
      if (Number(row!.failed) > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      return await audit('archiver-failing', fx.hardenedApp);
    } finally {
      await fx.hardened.setConf({ archive_command: fx.archiveCommand });
    }
  },
};

async function scenario(name: string): Promise<AuditReport> {
  return reports.get(name) ?? (await SCENARIOS[name]!());
}

/** For each check id: the scenario where it must fail and the one where it must pass. */
const EXPECTATIONS: Record<string, { fail: string; pass: string }> = {};
for (const id of CHECK_IDS) EXPECTATIONS[id] = { fail: 'insecure', pass: 'hardened' };
Object.assign(EXPECTATIONS, {
  'tls.server-cert-expiry': { fail: 'cert-expired', pass: 'hardened' },
  'tls.server-cert-untrusted': { fail: 'cert-untrusted', pass: 'hardened' },
  'tls.server-cert-weak': { fail: 'cert-weak', pass: 'hardened' },
  'tls.server-cert-hostname': { fail: 'cert-wrong-host', pass: 'hardened' },
  'hba.errors': { fail: 'hba-errors', pass: 'hardened' },
  'net.listen-all': { fail: 'listen-all', pass: 'hardened' },
  'server.version-supported': { fail: 'end-of-life', pass: 'hardened' },
  'repl.inactive-slots': { fail: 'inactive-slot', pass: 'hardened' },
  'repl.primary-conninfo-ssl': { fail: 'primary-conninfo', pass: 'hardened' },
  'client.password-source': { fail: 'env-password-in-production', pass: 'hardened' },
  'backup.archiver-failing': { fail: 'archiver-failing', pass: 'hardened' },
  // Reading pg_authid takes a superuser: the pass evidence comes from the bootstrap superuser's audit.
  'role.no-password-expiry': { fail: 'insecure', pass: 'hardened-admin' },
  'pw.md5-hashes': { fail: 'insecure', pass: 'hardened-admin' },
  'pw.login-without-password': { fail: 'insecure', pass: 'hardened-admin' },
  // Needs data checksums (the insecure cluster has none): corrupted at the end of this file.
  'server.checksum-failures': { fail: 'checksum-failure', pass: 'hardened' },
});

describe('every check fails on one configuration and passes on another', () => {
  for (const id of CHECK_IDS) {
    const { fail, pass } = EXPECTATIONS[id]!;
    if (id === 'log.pgaudit') {
      test(`${id}: fails on ${fail}, passes on ${pass} (needs the pgaudit package)`, async (t) => {
        assert.equal(status(await scenario(fail), id), 'fail');
        if (!fx.pgaudit)
          return t.skip(
            'pgaudit is not installed for these server binaries (apt-get install postgresql-<major>-pgaudit)',
          );
        assert.equal(status(await scenario(pass), id), 'pass');
      });
      continue;
    }
    if (fail === 'checksum-failure') continue;
    test(`${id}: fails on ${fail}, passes on ${pass}`, async () => {
      const failing = await scenario(fail);
      const passing = await scenario(pass);
      const f = failing.findings.find((x) => x.id === id)!;
      assert.equal(f.status, 'fail', `${id} on ${fail}: ${f.status} — ${f.detail}`);
      assert.ok(f.objects.length > 0, `${id} names the offending objects`);
      assert.ok(f.remediation.length > 0);
      const p = passing.findings.find((x) => x.id === id)!;
      assert.equal(p.status, 'pass', `${id} on ${pass}: ${p.status} — ${p.detail}`);
    });
  }
});

describe('the hardened reference and least privilege', () => {
  test('the hardened cluster, audited as its application role, has no failing finding at or above low', () => {
    const report = reports.get('hardened')!;
    const failing = report.findings.filter((f) => f.status === 'fail' && atOrAbove(f.severity, 'low'));
    const allowed = fx.pgaudit ? [] : ['log.pgaudit'];
    assert.deepEqual(
      failing.map((f) => f.id).filter((id) => !allowed.includes(id)),
      [],
      failing.map((f) => `${f.id}: ${f.detail}`).join('\n'),
    );
    assert.equal(report.summary.error, 0);
    // The only checks it cannot run need pg_authid, which only a superuser should read.
    const skipped = report.findings
      .filter((f) => f.status === 'skip')
      .map((f) => f.id)
      .sort();
    assert.deepEqual(
      skipped,
      CHECK_CATALOG.filter((c) => c.requires?.includes('authid'))
        .map((c) => c.id)
        .sort(),
    );
    assert.ok(
      report.findings.filter((f) => f.status === 'skip').every((f) => f.enable && /pg_authid/.test(f.enable)),
    );
    assert.equal(report.connection.authMechanism, 'SCRAM-SHA-256-PLUS');
    assert.ok(report.connection.roundTrips <= 12, `round trips: ${report.connection.roundTrips}`);
  });

  for (const role of ['monitor', 'plain'] as const) {
    test(`as a role with ${role === 'monitor' ? 'only pg_monitor' : 'no monitoring grant'}, checks that need more skip with the grant, never pass`, async () => {
      const report = await audit(`hardened-${role}`, fx.hardenedRole(role));
      assert.equal(report.privileges?.superuser, false);
      assert.equal(report.privileges?.readAllSettings, role === 'monitor');
      let checked = 0;
      for (const check of CHECK_CATALOG) {
        const missing = (check.requires ?? []).filter((c) => !report.privileges![c]);
        if (missing.length === 0) continue;
        const finding = report.findings.find((f) => f.id === check.id)!;
        assert.equal(
          finding.status,
          'skip',
          `${check.id} needs ${missing.join(', ')} but is ${finding.status}`,
        );
        assert.ok(finding.enable && /GRANT|superuser/.test(finding.enable), `${check.id} names the grant`);
        checked++;
      }
      assert.ok(checked >= (role === 'monitor' ? 12 : 18), `only ${checked} checks needed more`);
      // The protocol and cipher checks need no grant: they are judged over the wire.
      for (const id of ['tls.min-protocol', 'tls.ciphers']) {
        const f = report.findings.find((x) => x.id === id)!;
        assert.equal(f.status, 'pass', `${id} as ${role}: ${f.detail}`);
      }
      assert.ok(report.findings.find((f) => f.id === 'hba.trust')!.enable!.includes('pg_hba_file_rules'));
    });
  }

  test('the audit is read-only: the catalog is unchanged afterwards', async () => {
    const snapshot = async (): Promise<string> => {
      const [result] = await sqlIn(
        fx.hardened,
        'appdb',
        `SELECT json_build_object(
        'classes', (SELECT count(*) FROM pg_class), 'maxOid', (SELECT max(oid::int8) FROM pg_class),
        'procs', (SELECT count(*) FROM pg_proc), 'namespaces', (SELECT count(*) FROM pg_namespace),
        'roles', (SELECT json_agg(r ORDER BY rolname) FROM (SELECT rolname, rolsuper, rolcanlogin, rolconnlimit, rolvaliduntil FROM pg_roles) r),
        'databases', (SELECT json_agg(d ORDER BY datname) FROM (SELECT datname, datacl::text, datconnlimit FROM pg_database) d),
        'settings', (SELECT count(*) FROM pg_db_role_setting), 'extensions', (SELECT count(*) FROM pg_extension),
        'acls', (SELECT md5(string_agg(coalesce(relacl::text, ''), ',' ORDER BY oid)) FROM pg_class),
        'slots', (SELECT count(*) FROM pg_replication_slots), 'policies', (SELECT count(*) FROM pg_policy),
        'tuples', (SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables)) AS s`,
      );
      return JSON.stringify(result!.rows[0].s);
    };
    const before = await snapshot();
    await runAudit({ ...fx.hardenedAdmin, versionTable: table });
    await runAudit({ ...fx.hardenedApp, versionTable: table });
    assert.equal(await snapshot(), before);
  });

  test('the shipped release table knows the majors and is dated', () => {
    assert.match(SERVER_VERSIONS.asOf, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(
      SERVER_VERSIONS.majors.some((m) => m.major === fx.hardened.major),
      `major ${fx.hardened.major} is in the table`,
    );
  });

  test('an unreachable server gives error findings for server checks and client findings still', async () => {
    const report = await runAudit({ ...fx.hardenedApp, port: 1, connectionTimeoutMs: 2000 });
    assertClean(report);
    assert.equal(report.connection.ok, false);
    assert.equal(report.connection.error?.code, 'PGW_CONN_REFUSED');
    assert.equal(status(report, 'role.app-superuser'), 'error');
    assert.equal(status(report, 'client.sslmode'), 'pass');
    assert.equal(status(report, 'pw.app-weak'), 'pass');
  });

  test('in production an insecure configuration is judged but not connected with (fail closed)', async () => {
    const report = await runAudit({
      ...fx.hardenedApp,
      sslMode: 'disable',
      channelBinding: 'prefer',
      versionTable: table,
    });
    assertClean(report);
    assert.equal(report.connection.ok, false);
    assert.match(report.connection.skipped ?? '', /PGW_POLICY_TLS_DISABLED/);
    assert.equal(status(report, 'client.sslmode'), 'fail');
    assert.equal(status(report, 'role.app-superuser'), 'skip');
    // The certificate is still read (handshake only, no credentials).
    assert.equal(status(report, 'tls.server-cert-expiry'), 'pass');
  });
});

describe('second server states', () => {
  test('an expired certificate is critical and read although the connection is refused', async () => {
    const report = await scenario('cert-expired');
    const finding = report.findings.find((f) => f.id === 'tls.server-cert-expiry')!;
    assert.equal(finding.severity, 'critical');
    assert.equal(report.connection.error?.code, 'PGW_TLS_CERT_EXPIRED');
    assert.match(finding.detail, /expired/);
  });

  test('the replication password in primary_conninfo never appears in the finding', async () => {
    const report = await scenario('primary-conninfo');
    const finding = report.findings.find((f) => f.id === 'repl.primary-conninfo-ssl')!;
    assert.match(finding.detail, /sslmode=prefer/);
    assert.doesNotMatch(JSON.stringify(finding), /password/);
  });

  test('an outdated minor release fails with the table date', async () => {
    const finding = (await scenario('outdated-minor')).findings.find(
      (f) => f.id === 'server.version-supported',
    )!;
    assert.equal(finding.status, 'fail');
    assert.match(finding.detail, /behind the latest minor release/);
  });

  test('server.checksum-failures: fails after a data page is corrupted on disk, passed before', async () => {
    assert.equal(status(reports.get('hardened')!, 'server.checksum-failures'), 'pass');
    assert.equal(status(reports.get('insecure')!, 'server.checksum-failures'), 'skip');
    await sqlIn(
      fx.hardened,
      'appdb',
      `CREATE TABLE public.victim (id int, filler text);
      INSERT INTO public.victim SELECT g, repeat('x', 50) FROM generate_series(1, 100) g; CHECKPOINT`,
    );
    const [located] = await sqlIn(
      fx.hardened,
      'appdb',
      "SELECT pg_relation_filepath('public.victim') AS path",
    );
    const path = join(fx.hardened.dataDir, String(located!.rows[0].path));
    await fx.hardened.kill('SIGINT');
    const bytes = readFileSync(path);
    for (let i = 4000; i < 4100; i++) bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(path, bytes);
    await fx.hardened.start();
    await sqlIn(fx.hardened, 'appdb', 'SELECT count(*) FROM public.victim').then(
      () => assert.fail('reading a corrupted page should fail'),
      (error: Error) => assert.match(error.message, /invalid page|checksum/),
    );
    for (let i = 0; i < 100; i++) {
      const [row] = await fx.hardened.adminQuery<{ n: string }>(
        'SELECT coalesce(sum(checksum_failures), 0) AS n FROM pg_stat_database',
      );
      if (Number(row!.n) > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const report = await runAudit({ ...fx.hardenedApp, versionTable: table });
    const finding = report.findings.find((f) => f.id === 'server.checksum-failures')!;
    assert.equal(finding.status, 'fail', finding.detail);
    assert.deepEqual(
      finding.objects.map((o) => o.name),
      ['appdb'],
    );
  });
});
