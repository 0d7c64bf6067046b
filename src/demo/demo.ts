/**
 * `pgwarden demo`: a guided run on a throwaway local cluster with a fresh
 * PKI. It shows doctor passing over verify-full in production, then the
 * production policy refusing insecure variants, and cleans up after itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDoctor, type DoctorReport } from '../doctor/doctor.js';
import { PgwardenError, PolicyError, type ErrorCode } from '../errors.js';
import { createPool, type CreatePoolOptions } from '../pool/pool.js';
import { Secret } from '../redact/secret.js';
import { createPki } from '../testing/pki.js';
import { startCluster, type Cluster } from '../testing/cluster.js';

export interface DemoStep {
  readonly title: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly doctor?: DoctorReport;
}

export interface DemoOptions {
  /** Keep the cluster directory for inspection. */
  keep?: boolean;
  /** Called as each step finishes, so a CLI can print progress. */
  onStep?: (step: DemoStep) => void;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly steps: readonly DemoStep[];
  readonly binaries: string;
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
  const pkiDir = mkdtempSync(join(tmpdir(), 'pgwarden-demo-pki-'));
  let cluster: Cluster | undefined;
  try {
    const pki = await createPki();
    const files = pki.writeFiles(pkiDir);
    cluster = await startCluster({
      tls: { pki },
      keep: options.keep ?? false,
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
      detail: `PostgreSQL ${cluster.major} (${cluster.binaries.source} binaries) on 127.0.0.1:${cluster.port}, TLS only (hostssl + scram-sha-256); CA at ${files.caCertPath}`,
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

    // ── pgwarden audit (issue 5): an insecure cluster audited, hardened, audited clean; HTML report kept ──
    const { runAuditDemo } = await import('../audit/demo-steps.js');
    await runAuditDemo({ record, keep: options.keep ?? false });
    // ── end of the audit steps ──

    return { ok: steps.every((s) => s.ok), steps, binaries: `${cluster.binaries.source} ${cluster.binDir}` };
  } finally {
    await cluster?.stop();
    rmSync(pkiDir, { recursive: true, force: true });
  }
}
