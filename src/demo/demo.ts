/**
 * `pgwarden demo`: a guided run on a throwaway local cluster with a fresh
 * PKI. It shows doctor passing over verify-full in production, then the
 * production policy refusing insecure variants, then an audit before and
 * after hardening a second cluster. Everything lives in one directory; by
 * default only the two HTML reports are left there, with `keep` the clusters
 * keep running and the CA and a password file stay, to connect to them.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDoctor, type DoctorReport } from '../doctor/doctor.js';
import { PgwardenError, PolicyError, type ErrorCode } from '../errors.js';
import { createPool, type CreatePoolOptions } from '../pool/pool.js';
import { Secret } from '../redact/secret.js';
import { createPki } from '../testing/pki.js';
import { startCluster, type Cluster } from '../testing/cluster.js';
import { keepCluster, writePgpass, type DemoLogin, type KeptCluster } from './kept-cluster.js';

export interface DemoStep {
  readonly title: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly doctor?: DoctorReport;
}

export interface DemoOptions {
  /**
   * Leave both clusters running, with the CA and a password file
   * (`DemoResult.kept`, `DemoResult.pgpass`), instead of removing them.
   */
  keep?: boolean;
  /** Called as each step finishes, so a CLI can print progress. */
  onStep?: (step: DemoStep) => void;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly steps: readonly DemoStep[];
  readonly binaries: string;
  /** The directory of the demo's files (it stays: the reports are in it). */
  readonly dir: string;
  /** The HTML audit reports, before and after hardening. */
  readonly reports: { readonly before: string; readonly after: string };
  /** With `keep`: the clusters left running. */
  readonly kept: readonly KeptCluster[];
  /** With `keep`: the libpq password file (mode 0600) for the kept clusters' logins. */
  readonly pgpass?: string;
}

/** A random password the policy accepts: 32 URL-safe characters. */
function generatePassword(): Secret {
  return new Secret(randomBytes(24).toString('base64url'));
}

async function expectRefusal(
  title: string,
  options: CreatePoolOptions,
  expected: ErrorCode[],
): Promise<DemoStep> {
  try {
    const pool = await createPool(options);
    await pool.close();
    return { title, ok: false, detail: 'the pool started, but the policy should have refused it' };
  } catch (error) {
    if (error instanceof PolicyError) {
      const codes = error.violations.map((v) => v.code);
      const ok = expected.every((code) => codes.includes(code));
      return {
        title,
        ok,
        detail: error.violations.map((v) => `[${v.code}] ${v.message}\n      fix: ${v.fix}`).join('\n    '),
      };
    }
    const detail = error instanceof PgwardenError ? `[${error.code}] ${error.message}` : String(error);
    return { title, ok: false, detail: `unexpected error: ${detail}` };
  }
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const steps: DemoStep[] = [];
  const record = (step: DemoStep): void => {
    steps.push(step);
    options.onStep?.(step);
  };
  const keep = options.keep ?? false;
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-demo-'));
  const pkiDir = join(dir, 'pki');
  mkdirSync(pkiDir, { mode: 0o700 });
  let cluster: Cluster | undefined;
  const kept: KeptCluster[] = [];
  try {
    // A year of validity: doctor and audit would rightly mark a certificate expiring within 30 days.
    const pki = await createPki({ validityDays: 365 });
    const files = pki.writeFiles(pkiDir);
    cluster = await startCluster({
      tls: { pki },
      conf: { password_encryption: 'scram-sha-256', ssl_min_protocol_version: 'TLSv1.2' },
      hba: ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl all all ::1/128 scram-sha-256'],
    });
    const password = generatePassword();
    await cluster.createRole('demo_app', { password });
    await cluster.createDatabase('demo', 'postgres');
    await cluster.adminQuery('GRANT CONNECT ON DATABASE demo TO demo_app');
    record({
      title: 'Started a throwaway PostgreSQL cluster with a fresh PKI',
      ok: true,
      detail: `PostgreSQL ${cluster.major} (${cluster.binaries.source} binaries) on 127.0.0.1:${cluster.port} (PID ${cluster.pid}), database demo, TLS only (hostssl + scram-sha-256); CA at ${files.caCertPath}`,
    });

    const secure: CreatePoolOptions = {
      env: {},
      environment: 'production',
      host: 'localhost',
      port: cluster.port,
      database: 'demo',
      user: 'demo_app',
      password,
      sslMode: 'verify-full',
      sslRootCert: files.caCertPath,
    };
    const doctor = await runDoctor(secure);
    record({
      title: 'pgwarden doctor in production over sslmode=verify-full',
      ok: doctor.ok && doctor.connection?.tls != null,
      detail: doctor.ok ? `compliant; TLS ${doctor.connection?.tls?.protocol ?? '?'}` : 'not compliant',
      doctor,
    });

    record(
      await expectRefusal(
        'The production policy refuses TLS off and a weak password',
        { ...secure, sslMode: 'disable', password: 'postgres' },
        ['PGW_POLICY_TLS_DISABLED', 'PGW_POLICY_WEAK_PASSWORD'],
      ),
    );
    record(
      await expectRefusal(
        'The production policy refuses encryption without certificate validation (DB_SSL_REJECT_UNAUTHORIZED=false)',
        {
          ...secure,
          sslMode: undefined,
          sslRootCert: undefined,
          env: { DB_SSL: 'true', DB_SSL_REJECT_UNAUTHORIZED: 'false' },
        },
        ['PGW_POLICY_CERT_VALIDATION_DISABLED'],
      ),
    );
    await cluster.createRole('demo_admin', { password, attributes: 'LOGIN SUPERUSER' });
    record(
      await expectRefusal(
        'The production policy refuses a superuser application role',
        { ...secure, user: 'demo_admin' },
        ['PGW_POLICY_PRIVILEGED_ROLE'],
      ),
    );

    // ── pgwarden audit: an insecure cluster audited, hardened, audited again; both HTML reports kept ──
    const { runAuditDemo } = await import('./audit-steps.js');
    const audit = await runAuditDemo({ record, keep, dir });
    // ── end of the audit steps ──

    let pgpass: string | undefined;
    if (keep) {
      const login: DemoLogin = {
        host: 'localhost',
        port: cluster.port,
        database: 'demo',
        user: 'demo_app',
        password,
      };
      if (audit.kept) kept.push(audit.kept);
      kept.unshift(await keepCluster(cluster, 'the TLS cluster', login, files.caCertPath));
      pgpass = join(dir, 'pgpass');
      writePgpass(pgpass, [login, audit.login]);
    }
    return {
      ok: steps.every((s) => s.ok),
      steps,
      binaries: `${cluster.binaries.source} ${cluster.binDir}`,
      dir,
      reports: audit.reports,
      kept,
      ...(pgpass ? { pgpass } : {}),
    };
  } finally {
    if (kept.length === 0) {
      await cluster?.stop();
      rmSync(pkiDir, { recursive: true, force: true });
      // Nothing worth keeping when the demo failed before writing a report.
      if (readdirSync(dir).filter((f) => f.endsWith('.html')).length === 0) {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
