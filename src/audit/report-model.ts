/**
 * The audit report: what runAudit returns and what `--format json` prints
 * (docs/audit.md documents this schema; `schemaVersion` changes when a field
 * changes meaning).
 */
import type { AreaCoverage, SkippedGrants } from './coverage.js';
import type { Finding } from './finding.js';
import type { Privileges } from './privileges.js';
import { atOrAbove, SEVERITIES, type Severity } from './severity.js';
import type { Suppression } from './suppressions.js';
import { isActiveFailure } from './finding.js';

export const REPORT_SCHEMA_VERSION = 1;

export interface AuditSummary {
  readonly pass: number;
  /** Failing findings that count: not suppressed, not in the baseline. */
  readonly fail: number;
  readonly skip: number;
  readonly error: number;
  readonly suppressed: number;
  readonly baseline: number;
  /** Counting failures by severity. */
  readonly failing: Readonly<Record<Severity, number>>;
}

export interface AuditReport {
  readonly tool: { readonly name: 'pgwarden'; readonly version: string; readonly schemaVersion: number };
  readonly generatedAt: string;
  readonly durationMs: number;
  /** Where the audit connected; never a password or a URL. */
  readonly target: {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly environment: string;
    readonly sslMode: string;
    readonly serverVersion: string | null;
  };
  /**
   * The CIS PostgreSQL Benchmark edition the references name: the one for
   * the server's major version (`forServer`), else the newest pgwarden knows.
   */
  readonly cis: { readonly edition: string; readonly forServer: boolean };
  readonly connection: {
    readonly ok: boolean;
    /** Why the audit did not connect on purpose (production policy). */
    readonly skipped?: string;
    readonly error?: { readonly code: string; readonly message: string; readonly fix?: string | undefined };
    readonly tls: { readonly protocol: string | null; readonly cipher: string } | null;
    readonly authMechanism: string | null;
    /** Catalog round trips the checks needed (connection setup excluded). */
    readonly roundTrips: number;
  };
  /** What the auditing role could read; null when the audit did not connect. */
  readonly privileges: Privileges | null;
  readonly failOn: Severity;
  readonly summary: AuditSummary;
  /** Per area: counts and whether it was verified (an area with most checks skipped is not). */
  readonly areas: readonly AreaCoverage[];
  /** The grants that would run the checks skipped for lack of a privilege; null when none were. */
  readonly skippedGrants: SkippedGrants | null;
  readonly findings: readonly Finding[];
  readonly suppressions: {
    readonly applied: number;
    readonly expired: readonly Suppression[];
    readonly unused: readonly Suppression[];
  };
  readonly baseline: { readonly used: boolean; readonly known: number };
}

export function summarize(findings: readonly Finding[]): AuditSummary {
  const failing = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let pass = 0,
    fail = 0,
    skip = 0,
    error = 0,
    suppressed = 0,
    baseline = 0;
  for (const f of findings) {
    if (f.status === 'pass') pass++;
    else if (f.status === 'skip') skip++;
    else if (f.status === 'error') error++;
    else if (f.suppressed) suppressed++;
    else if (f.inBaseline) baseline++;
    else {
      fail++;
      failing[f.severity]++;
    }
  }
  return { pass, fail, skip, error, suppressed, baseline, failing };
}

/** The failures that make the audit exit 1. */
export function blockingFindings(report: AuditReport, failOn: Severity = report.failOn): Finding[] {
  return report.findings.filter((f) => isActiveFailure(f) && atOrAbove(f.severity, failOn));
}
