/**
 * The audit part of `pgwarden demo`: an insecure cluster (trust rules, TLS
 * off, a superuser application role) is audited, hardened (settings,
 * pg_hba.conf, roles) and audited again. Both audits are written as HTML
 * reports to files the demo names, and every line the demo prints about them
 * says what the report says: the same role, host and database, and "clean"
 * only when nothing failed.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keepCluster, type DemoLogin, type KeptCluster } from './kept-cluster.js';
import { Secret } from '../redact/secret.js';
import { scramSha256Verifier } from '../sql/scram-verifier.js';
import { createPki } from '../testing/pki.js';
import { startCluster, type Cluster } from '../testing/cluster.js';
import { resolveServerUser } from '../testing/os-user.js';
import { formatHtml } from '../audit/report/html.js';
import { blockingFindings, type AuditReport } from '../audit/report-model.js';
import { runAudit } from '../audit/runner.js';
import { atOrAbove } from '../audit/severity.js';

export interface AuditDemoStep {
  readonly title: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface AuditDemoOptions {
  readonly record: (step: AuditDemoStep) => void;
  /** Leave the cluster running (its CA written to `dir`) instead of removing it. */
  readonly keep?: boolean;
  /** Where the reports (and, with keep, the CA and WAL archive) go; the demo's own directory. */
  readonly dir: string;
}

export interface AuditDemoResult {
  /** The HTML reports of the audits before and after hardening. */
  readonly reports: { readonly before: string; readonly after: string };
  /** With `keep`: the hardened cluster, left running. */
  readonly kept?: KeptCluster;
  /** The application login, for the demo's password file. */
  readonly login: DemoLogin;
}

const SEVERITY_WORDS = ['critical', 'high', 'medium', 'low', 'info'] as const;

/** `45 passed, 31 failed (4 critical, 6 high, …), 5 skipped`: the counts the report's summary shows. */
export function auditCounts(report: AuditReport): string {
  const s = report.summary;
  const bySeverity = SEVERITY_WORDS.filter((sev) => s.failing[sev] > 0).map(
    (sev) => `${s.failing[sev]} ${sev}`,
  );
  return `${s.pass} passed, ${s.fail} failed${bySeverity.length ? ` (${bySeverity.join(', ')})` : ''}, ${s.skip} skipped`;
}

/** `shop@localhost:5432/shop`: the target as the report's header names it. */
const target = (report: AuditReport): string =>
  `${report.target.user}@${report.target.host}:${report.target.port}/${report.target.database}`;

/** What the skipped checks would need, in the report's own words. */
function skippedNote(report: AuditReport): string {
  const grants = report.skippedGrants;
  if (report.summary.skip === 0) return '';
  if (!grants) return `; ${report.summary.skip} skipped as not applicable`;
  const authid = report.findings.filter((f) => f.status === 'skip' && f.enable?.includes('pg_authid')).length;
  return authid === report.summary.skip
    ? `; the ${authid} skipped checks read pg_authid, which only a superuser should`
    : `; ${grants.checks.length} of the ${report.summary.skip} skipped checks need a grant (listed in the report)`;
}

export async function runAuditDemo(options: AuditDemoOptions): Promise<AuditDemoResult> {
  const { record, dir } = options;
  const keep = options.keep ?? false;
  const archive = join(dir, 'wal-archive');
  mkdirSync(archive, { mode: 0o700 });
  const owner = resolveServerUser();
  if (owner) chownSync(archive, owner.uid, owner.gid);
  const reports = { before: join(dir, 'audit-before.html'), after: join(dir, 'audit-after.html') };
  const password = new Secret(randomBytes(24).toString('base64url'));
  let cluster: Cluster | undefined;
  let kept: KeptCluster | undefined;
  try {
    cluster = await startCluster({
      hba: ['local all all trust', 'host all all 127.0.0.1/32 trust'],
      conf: { password_encryption: 'md5' },
    });
    await cluster.createRole('shop', { password, attributes: 'LOGIN SUPERUSER CREATEDB CREATEROLE' });
    await cluster.createDatabase('shop', 'shop');
    const insecure = await runAudit({
      env: {},
      environment: 'development',
      host: '127.0.0.1',
      port: cluster.port,
      user: 'shop',
      password,
      database: 'shop',
    });
    writeFileSync(reports.before, formatHtml(insecure), { mode: 0o600 });
    const worst = insecure.findings
      .filter((f) => f.status === 'fail' && atOrAbove(f.severity, 'high'))
      .map((f) => f.id);
    record({
      title: `pgwarden audit of ${target(insecure)} on a second throwaway cluster (trust rules, TLS off, a superuser application role)`,
      ok:
        blockingFindings(insecure).length > 0 &&
        insecure.findings.some((f) => f.id === 'role.app-superuser' && f.status === 'fail'),
      detail: `${auditCounts(insecure)}${worst.length ? `; e.g. ${worst.slice(0, 6).join(', ')}` : ''}. HTML report: ${reports.before}`,
    });

    // Harden: TLS, settings (one restart), pg_hba.conf, roles and grants.
    // A certificate valid for a year, so the expiry check has nothing to say.
    const pki = await createPki({ validityDays: 365 });
    await cluster.setTls({ pki });
    const pgaudit = existsSync(join(cluster.binDir, '..', 'lib', 'pgaudit.so'));
    await cluster.setConf({
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
      log_replication_commands: true,
      shared_preload_libraries: pgaudit ? 'passwordcheck,pgaudit' : 'passwordcheck',
      archive_mode: 'on',
      archive_command: `test ! -f ${archive}/%f && cp %p ${archive}/%f`,
    });
    await cluster.restart();
    await cluster.writeHba(['hostssl shop shop 127.0.0.1/32 scram-sha-256']);
    const validUntil = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
    await cluster.createRole('shop_owner', { attributes: 'NOLOGIN' });
    await cluster.adminQuery(`ALTER DATABASE shop OWNER TO shop_owner`);
    // The password was stored as md5: set it again as a SCRAM verifier computed here (never the plaintext).
    await cluster.adminQuery(
      `ALTER ROLE shop NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT 20 PASSWORD '${scramSha256Verifier(password)}'`,
    );
    await cluster.adminQuery('GRANT pg_monitor TO shop');
    await cluster.queryIn(
      'postgres',
      `ALTER ROLE shop VALID UNTIL '${validUntil}';
       REVOKE ALL ON DATABASE postgres FROM PUBLIC; REVOKE ALL ON DATABASE shop FROM PUBLIC;
       GRANT CONNECT ON DATABASE shop TO shop;
       ALTER DATABASE postgres CONNECTION LIMIT 20; ALTER DATABASE shop CONNECTION LIMIT 50;
       ALTER ROLE shop IN DATABASE shop SET statement_timeout = '30s';
       ALTER ROLE shop IN DATABASE shop SET idle_in_transaction_session_timeout = '60s';
       ALTER ROLE shop IN DATABASE shop SET lock_timeout = '10s';`,
    );
    await cluster.queryIn(
      'shop',
      `GRANT SELECT ON pg_catalog.pg_hba_file_rules TO shop; GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO shop;
       GRANT SELECT ON pg_catalog.pg_file_settings TO shop; GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO shop;`,
    );
    record({
      title:
        'Hardened it: TLS on (verify-full), scram-sha-256, hostssl rules for the app only, logging, WAL archiving, a least-privilege role',
      ok: true,
      detail: 'one restart for the postmaster settings; pg_hba.conf and roles reloaded live',
    });

    const clean = await runAudit({
      env: {},
      environment: 'production',
      host: 'localhost',
      port: cluster.port,
      user: 'shop',
      password,
      database: 'shop',
      sslMode: 'verify-full',
      sslRootCert: pki.ca.certPem,
      channelBinding: 'require',
    });
    writeFileSync(reports.after, formatHtml(clean), { mode: 0o600 });
    const remaining = clean.findings.filter((f) => f.status === 'fail').map((f) => `${f.id} (${f.severity})`);
    // "clean" only when the report says so; a remaining low finding is named, not hidden.
    const verdict =
      remaining.length === 0
        ? 'clean'
        : `${remaining.length} finding${remaining.length === 1 ? '' : 's'} below medium remain${remaining.length === 1 ? 's' : ''}`;
    record({
      title: `pgwarden audit of ${target(clean)} again, as the application role over verify-full: ${verdict}`,
      ok:
        clean.connection.ok &&
        clean.findings.every((f) => f.status !== 'fail' || !atOrAbove(f.severity, 'medium')),
      detail: `${auditCounts(clean)}${remaining.length ? `; remaining: ${remaining.join(', ')}` : ''}${skippedNote(clean)}. HTML report: ${reports.after}`,
    });
    const login: DemoLogin = {
      host: 'localhost',
      port: cluster.port,
      database: 'shop',
      user: 'shop',
      password,
    };
    if (keep) {
      const caPath = join(dir, 'audit-ca.crt');
      writeFileSync(caPath, pki.ca.certPem, { mode: 0o644 });
      kept = await keepCluster(cluster, 'the hardened cluster', login, caPath);
    }
    return { reports, login, ...(kept ? { kept } : {}) };
  } finally {
    if (!kept) {
      await cluster?.stop();
      rmSync(archive, { recursive: true, force: true });
    }
  }
}
