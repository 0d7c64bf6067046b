/**
 * The audit's one connection, as the checks see it: the settings and
 * privileges read in the first round trip, the TLS session it runs over, and
 * a query function that counts round trips (the bench reports them).
 */
import type { TlsSessionInfo } from '../tls/session-info.js';
import type { Privileges } from './privileges.js';

export interface Setting {
  readonly setting: string;
  readonly unit: string | null;
  /** `default`, `configuration file`, `override`… */
  readonly source: string;
}

export interface AuditSession {
  readonly database: string;
  readonly user: string;
  readonly serverVersion: string;
  readonly serverVersionNum: number;
  readonly inRecovery: boolean;
  /** The audit's own backend, left out of activity checks. */
  readonly pid: number;
  readonly privileges: Privileges;
  /** Every setting the role can see (superuser-only ones need pg_read_all_settings). */
  readonly settings: ReadonlyMap<string, Setting>;
  /** Undefined when the session is not encrypted. */
  readonly tls: TlsSessionInfo | undefined;
  /** The SASL mechanism or `md5`/`password`; undefined for trust or certificate logins. */
  readonly authMechanism: string | undefined;
  /** DER certificates the server presented on this session, leaf first. */
  readonly peerCertificates: readonly Buffer[];
  query<R>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

/** A setting's value, or undefined when it is hidden from this role. */
export function settingValue(session: AuditSession | undefined, name: string): string | undefined {
  return session?.settings.get(name)?.setting;
}

/** PostgreSQL's boolean spellings. */
export function isOn(value: string | undefined): boolean {
  return value !== undefined && ['on', 'true', 'yes', '1'].includes(value.toLowerCase());
}
