/**
 * The audit part of `pgwarden demo`: an insecure cluster (trust rules, TLS
 * off, a superuser application role) is audited, hardened (settings,
 * pg_hba.conf, roles) and audited clean, and the HTML report of the clean
 * audit is written to a file the demo names.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../redact/secret.js';
import { scramSha256Verifier } from '../sql/scram-verifier.js';
import { createPki } from '../testing/pki.js';
import { startCluster, type Cluster } from '../testing/cluster.js';
import { resolveServerUser } from '../testing/os-user.js';
import { formatHtml } from './report/html.js';
import { blockingFindings, type AuditReport } from './report-model.js';
import { runAudit } from './runner.js';
import { atOrAbove } from './severity.js';

export interface AuditDemoStep {
  readonly title: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface AuditDemoOptions {
  readonly record: (step: AuditDemoStep) => void;
  readonly keep?: boolean;
}

function summary(report: AuditReport): string {
  const s = report.summary;
  const ids = report.findings
    .filter((f) => f.status === 'fail' && atOrAbove(f.severity, 'high'))
    .map((f) => f.id);
  return `${s.pass} passed, ${s.fail} failed (${s.failing.critical} critical, ${s.failing.high} high, ${s.failing.medium} medium, ${s.failing.low} low), ${s.skip} skipped${ids.length ? `; e.g. ${ids.slice(0, 6).join(', ')}` : ''}`;
}

export async function runAuditDemo(options: AuditDemoOptions): Promise<string> {
  const { record } = options;
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-demo-audit-'));
  const archive = join(dir, 'wal-archive');
  mkdirSync(archive, { mode: 0o700 });
  const owner = resolveServerUser();
  if (owner) chownSync(archive, owner.uid, owner.gid);
  const reportPath = join(dir, 'audit-report.html');
  const password = new Secret(randomBytes(24).toString('base64url'));
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      keep: options.keep ?? false,
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
    record({
      title: 'pgwarden audit of an insecure cluster (trust rules, TLS off, a superuser application role)',
      ok:
        blockingFindings(insecure).length > 0 &&
        insecure.findings.some((f) => f.id === 'role.app-superuser' && f.status === 'fail'),
      detail: summary(insecure),
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
    writeFileSync(reportPath, formatHtml(clean), { mode: 0o600 });
    const remaining = clean.findings.filter((f) => f.status === 'fail').map((f) => `${f.id} (${f.severity})`);
    record({
      title: 'pgwarden audit again, as the application role over verify-full: clean',
      ok:
        clean.connection.ok &&
        clean.findings.every((f) => f.status !== 'fail' || !atOrAbove(f.severity, 'medium')),
      detail: `${summary(clean)}${remaining.length ? `; remaining: ${remaining.join(', ')}` : ''}; skipped checks need pg_authid (superuser only). HTML report: ${reportPath}`,
    });
    return reportPath;
  } finally {
    await cluster?.stop();
    if (!existsSync(reportPath)) rmSync(dir, { recursive: true, force: true });
    else rmSync(archive, { recursive: true, force: true });
  }
}
