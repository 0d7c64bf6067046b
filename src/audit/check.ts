/**
 * What a check is: static metadata (id, severity, rationale, remediation,
 * references, the capabilities it needs) and an `evaluate` that turns the
 * facts of its area into an outcome. Checks never query: their area gathers
 * facts in one round trip, so a full audit stays fast.
 */
import type { ResolvedConfig } from '../config/schema.js';
import { CERTIFICATE_EXPIRY_DAYS } from '../tls/certificate-expiry.js';
import type { Area, FindingObject } from './finding.js';
import type { Capability, Privileges } from './privileges.js';
import type { ServerVersionTable } from './server-versions.js';
import type { Severity } from './severity.js';
import type { AuditSession } from './session.js';
import type { TlsProbeReport } from './tls-probe.js';

export type CheckOutcome =
  | { readonly status: 'pass'; readonly detail: string }
  | {
      readonly status: 'fail';
      readonly detail: string;
      readonly objects: readonly FindingObject[];
      /** Remediation specific to these objects; default: the check's own. */
      readonly remediation?: string;
      /** A severity other than the check's default (e.g. an expired certificate is critical). */
      readonly severity?: Severity;
    }
  | { readonly status: 'skip'; readonly detail: string; readonly enable?: string };

export const pass = (detail: string): CheckOutcome => ({ status: 'pass', detail });
export const skip = (detail: string, enable?: string): CheckOutcome =>
  enable === undefined ? { status: 'skip', detail } : { status: 'skip', detail, enable };
export function fail(
  detail: string,
  objects: readonly FindingObject[],
  extra: { remediation?: string; severity?: Severity } = {},
): CheckOutcome {
  return { status: 'fail', detail, objects, ...extra };
}

/** Tunables of checks that look at live activity. */
export interface AuditThresholds {
  /** A session idle in a transaction for longer than this fails limit.idle-in-transaction-now. Default 300 s. */
  readonly idleInTransactionSeconds: number;
  /** A statement running longer than this fails limit.long-running. Default 300 s. */
  readonly longRunningSeconds: number;
  /** Connections in use above this share of max_connections fail limit.connection-headroom. Default 0.8. */
  readonly connectionHeadroom: number;
  /** A certificate expiring within this many days fails tls.server-cert-expiry. Default 30. */
  readonly certificateExpiryDays: number;
  /** A password expiring within this many days fails role.password-expiring. Default 14. */
  readonly passwordExpiryDays: number;
  /** More superusers than this fail role.superuser-count. Default 1. */
  readonly maxSuperusers: number;
}

export const DEFAULT_THRESHOLDS: AuditThresholds = Object.freeze({
  idleInTransactionSeconds: 300,
  longRunningSeconds: 300,
  connectionHeadroom: 0.8,
  certificateExpiryDays: CERTIFICATE_EXPIRY_DAYS,
  passwordExpiryDays: 14,
  maxSuperusers: 1,
});

/** What every evaluate() can read besides its area's facts. */
export interface EvalContext {
  readonly config: ResolvedConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Undefined when the audit could not connect. */
  readonly session: AuditSession | undefined;
  readonly privileges: Privileges | undefined;
  readonly thresholds: AuditThresholds;
  readonly now: Date;
  readonly versionTable: ServerVersionTable;
  /** The TLS probe, started by the runner alongside the session; the tls area probes itself when absent. */
  readonly tlsProbe?: Promise<TlsProbeReport>;
}

export interface CheckDefinition<F> {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly rationale: string;
  /** The generic fix; an outcome may give a specific one. */
  readonly remediation: string;
  /**
   * The CIS PostgreSQL Benchmark recommendations that cover the check (see
   * {@link cis}). Reports name them in the edition for the server's version.
   * Empty or absent: no CIS recommendation covers it, and reports say it is
   * pgwarden's own check (or name `origin`).
   */
  readonly cis?: readonly CisCitation[];
  /** Where a check no CIS recommendation covers comes from, when not from pgwarden itself. */
  readonly origin?: string;
  /** Documentation: PostgreSQL manual pages, pgwarden's docs. */
  readonly references: readonly string[];
  /** Capabilities without which the check reports skip (with the GRANT). */
  readonly requires?: readonly Capability[];
  /** Whether the check needs the server connection. Default: its area's `needsConnection`. */
  readonly needsSession?: boolean;
  evaluate(facts: F, context: EvalContext): CheckOutcome;
}

export interface AuditArea<F> {
  readonly area: Area;
  /** False for areas that work without a server connection (client config, the certificate probe). */
  readonly needsConnection: boolean;
  /** Collects what the checks read, in at most one round trip. */
  gather(context: EvalContext): Promise<F>;
  readonly checks: readonly CheckDefinition<F>[];
}

/** Declares an area with its facts type inferred. */
export function defineArea<F>(area: AuditArea<F>): AuditArea<F> {
  return area;
}

/** A CIS PostgreSQL Benchmark recommendation a check implements. */
export interface CisCitation {
  /** The recommendation's number in the current numbering (src/audit/cis-sections.ts), e.g. `6.8`. */
  readonly section: string;
  /**
   * Words of its title that name the control, e.g. `TLS is enabled`: a test
   * holds them against the title in every edition, so a wrong number fails.
   */
  readonly control: string;
  /**
   * The PostgreSQL majors whose edition the citation holds for, when not
   * all: a recommendation that asks for more in one edition than the check
   * verifies is not cited there.
   */
  readonly majors?: readonly number[];
}

/** Cites CIS recommendation `section`, whose title contains `control`. */
export const cis = (
  section: string,
  control: string,
  options: { majors?: readonly number[] } = {},
): CisCitation => ({ section, control, ...options });
export const pgDocs = (page: string): string => `https://www.postgresql.org/docs/current/${page}`;
