/**
 * `pgwarden creds test <env>`: connect with the stored credentials and report
 * what the server said, without ever returning the password.
 */
import { PgwardenError, type PolicyViolation } from '../errors.js';
import { classifyQueryError } from '../pool/classify-error.js';
import type { TlsSessionInfo } from '../tls/session-info.js';
import { connectEnvironment } from './connect.js';
import { checkExpiry, type ExpiryEntry } from './expiry.js';
import type { CredentialStore } from './store.js';

export interface ErrorSummary {
  readonly code: string;
  readonly message: string;
  readonly option?: string | undefined;
  readonly fix?: string | undefined;
}

export interface CredentialsTestReport {
  /** True when the connection worked. */
  readonly ok: boolean;
  readonly environment: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly database: string | undefined;
  readonly user: string | undefined;
  readonly serverVersion?: string | undefined;
  /** TLS protocol and cipher, or null for an unencrypted session. */
  readonly tls?: Pick<TlsSessionInfo, 'protocol' | 'cipher'> | null;
  /** Production-policy findings about this connection (reported, not enforced). */
  readonly violations: readonly PolicyViolation[];
  readonly expiry: ExpiryEntry;
  readonly error?: ErrorSummary;
}

export function summarizeError(error: unknown): ErrorSummary {
  const coded = error instanceof PgwardenError ? error : classifyQueryError(error);
  return { code: coded.code, message: coded.message, option: coded.option, fix: coded.fix };
}

/** Connects once with the stored credentials of `name`. Throws only for store errors (unknown env, locked store). */
export async function testCredentials(store: CredentialStore, name: string): Promise<CredentialsTestReport> {
  const environment = await store.get(name);
  const password = await store.password(name);
  const base = {
    environment: name,
    host: environment.host,
    port: environment.port,
    database: environment.database,
    user: environment.user,
  };
  const expiry = entryOf(checkExpiry([environment], { now: store.now() }));
  try {
    const pool = await connectEnvironment(environment, password);
    try {
      const startup = pool.startup;
      return {
        ...base,
        expiry,
        ok: true,
        serverVersion: startup?.serverVersion,
        tls: startup?.tls ? { protocol: startup.tls.protocol, cipher: startup.tls.cipher } : null,
        violations: startup?.violations ?? [],
      };
    } finally {
      await pool.close();
    }
  } catch (error) {
    return { ...base, expiry, ok: false, violations: [], error: summarizeError(error) };
  }
}

function entryOf(report: ReturnType<typeof checkExpiry>): ExpiryEntry {
  const entry = report.expired[0] ?? report.expiring[0] ?? report.healthy[0] ?? report.noExpiry[0];
  return entry as ExpiryEntry;
}
