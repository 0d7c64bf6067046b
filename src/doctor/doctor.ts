/**
 * `pgwarden doctor` as a library call: resolve the config, judge it against
 * the policy, connect over the same path as the pool, and report what was
 * found. Nothing here prints; the CLI formats the report.
 */
import {
  evaluateConfigPolicy,
  evaluateRolePolicy,
  ROLE_FACTS_SQL,
  type RoleFacts,
} from '../config/policy.js';
import type { PemSource, ResolvedConfig } from '../config/schema.js';
import { PgwardenError, PolicyError, type PolicyViolation } from '../errors.js';
import { createLogger } from '../logger.js';
import { classifyQueryError } from '../pool/classify-error.js';
import {
  poolFromResolution,
  resolveWithSecrets,
  type CreatePoolOptions,
  type WardenPool,
} from '../pool/pool.js';
import { clientStream } from '../pool/warden-client.js';
import { certificateExpiry, type CertificateExpiry } from '../tls/certificate-expiry.js';
import { tlsSessionInfo, type TlsSessionInfo } from '../tls/session-info.js';

/** The options of the pool doctor judges: everything createPool takes. */
export type DoctorOptions = CreatePoolOptions;

/** The session's TLS, the server certificate judged as audit and alerts judge it. */
export type DoctorTls = Omit<TlsSessionInfo, 'certificate'> & {
  readonly certificate?: NonNullable<TlsSessionInfo['certificate']> & { readonly expiry: CertificateExpiry };
};

export interface ErrorSummary {
  readonly code: string;
  readonly message: string;
  readonly option?: string | undefined;
  readonly fix?: string | undefined;
}

export interface DoctorReport {
  /** True when the config is compliant and the connection worked. */
  readonly ok: boolean;
  readonly environment: string;
  readonly policy: string;
  /** The effective configuration, secrets shown only as set/unset and their source. */
  readonly config: Record<string, unknown>;
  /** Where credentials come from (backend, settings) and the cache state; never a secret. */
  readonly credentialSource?: Record<string, unknown>;
  readonly warnings: readonly ErrorSummary[];
  readonly violations: readonly PolicyViolation[];
  readonly error?: ErrorSummary;
  readonly connection?: {
    readonly ok: boolean;
    readonly skipped?: string;
    readonly error?: ErrorSummary;
    readonly tls?: DoctorTls | null;
    readonly authMechanism?: string | undefined;
    readonly serverVersion?: string | undefined;
    readonly role?: RoleFacts | undefined;
    readonly session?: Record<string, string>;
  };
}

function judgeCertificate(info: TlsSessionInfo | undefined): DoctorTls | null {
  if (!info) return null;
  const { certificate, ...session } = info;
  return certificate
    ? { ...session, certificate: { ...certificate, expiry: certificateExpiry(certificate.validTo) } }
    : session;
}

function summarize(error: unknown): ErrorSummary {
  const coded = error instanceof PgwardenError ? error : classifyQueryError(error);
  return { code: coded.code, message: coded.message, option: coded.option, fix: coded.fix };
}

function describePem(source: PemSource | undefined): string {
  if (!source) return 'none';
  return source.origin === 'file' ? `file ${source.path}` : source.origin;
}

function describeConfig(config: ResolvedConfig): Record<string, unknown> {
  const { tls, pool, session, sources } = config;
  return {
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    // Only where the password came from: never the value, never its length.
    passwordSource: config.password ? sources.password : 'none',
    applicationName: config.applicationName,
    sslMode: tls.mode,
    effectiveSslMode: tls.effectiveMode,
    sslRootCert: describePem(tls.rootCert),
    sslCert: describePem(tls.cert),
    sslKey: tls.key ? (tls.keyPath ? `file ${tls.keyPath}` : 'inline') : 'none',
    sslMinVersion: tls.minVersion,
    channelBinding: tls.channelBinding,
    sslNegotiation: tls.negotiation,
    pool: { ...pool },
    session: { ...session },
    sources: { ...sources },
  };
}

const SESSION_SQL = `SELECT current_setting('statement_timeout') AS statement_timeout,
  current_setting('idle_in_transaction_session_timeout') AS idle_in_transaction_session_timeout,
  current_setting('lock_timeout') AS lock_timeout,
  current_setting('application_name') AS application_name,
  current_setting('server_version') AS server_version,
  coalesce((SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()), 'unknown') AS ssl`;

/** Runs every check and returns the report; never throws for a failing check. */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const logger = createLogger(undefined);
  let resolution;
  try {
    resolution = await resolveWithSecrets(options, logger);
  } catch (error) {
    const summary = summarize(error);
    return {
      ok: false,
      environment: 'unknown',
      policy: 'unknown',
      config: {},
      warnings: [],
      violations: [],
      error: summary,
    };
  }
  const { config, warnings, credentials } = resolution;
  const violations = evaluateConfigPolicy(config);
  const base = {
    environment: config.environment,
    policy: config.policy,
    config: describeConfig(config),
    credentialSource: { backend: credentials.backend, ...credentials.describe(), cache: credentials.stats() },
    warnings: warnings.map((w) => ({ code: w.code, message: w.message, option: w.option })),
  };

  // The gate every command passes: in production an insecure link is not even tried.
  let pool: WardenPool;
  try {
    pool = poolFromResolution(resolution, { purpose: 'admin', checkRole: false });
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return {
      ...base,
      ok: false,
      violations,
      connection: {
        ok: false,
        skipped: `not attempted in ${config.environment}: ${error.violations.map((v) => v.code).join(', ')}`,
      },
    };
  }
  try {
    const client = await pool.checkout({ retry: false });
    try {
      const tls = judgeCertificate(tlsSessionInfo(clientStream(client)));
      const authMechanism = (client as unknown as { authMechanism?: string }).authMechanism;
      const session = (await client.query<Record<string, string>>(SESSION_SQL)).rows[0] ?? {};
      const role = (await client.query<RoleFacts>(ROLE_FACTS_SQL)).rows[0];
      if (role) violations.push(...evaluateRolePolicy(role));
      const { server_version: serverVersion, ...settings } = session;
      return {
        ...base,
        ok: violations.length === 0,
        violations,
        connection: {
          ok: true,
          tls,
          authMechanism: authMechanism ?? 'none (trust or certificate)',
          serverVersion,
          role,
          session: settings,
        },
      };
    } finally {
      client.release();
    }
  } catch (error) {
    return { ...base, ok: false, violations, connection: { ok: false, error: summarize(error) } };
  } finally {
    await pool.close();
  }
}
