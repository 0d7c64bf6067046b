/**
 * The findings model: what one check reports. Every field is safe to print:
 * details name roles, rule lines, settings and objects, never a password.
 */
import type { Severity, Status } from './severity.js';

/** The areas checks are grouped in, in report order. */
export const AREAS = [
  'tls',
  'auth',
  'roles',
  'privileges',
  'passwords',
  'logging',
  'limits',
  'extensions',
  'server',
  'client',
] as const;
export type Area = (typeof AREAS)[number];

export const AREA_TITLES: Readonly<Record<Area, string>> = {
  tls: 'TLS',
  auth: 'Authentication and network',
  roles: 'Roles',
  privileges: 'Privileges',
  passwords: 'Passwords',
  logging: 'Logging',
  limits: 'Limits and timeouts',
  extensions: 'Extensions and functions',
  server: 'Server, backup and replication',
  client: 'Client configuration',
};

/**
 * One offending (or examined) object. `name` is what suppressions match:
 * a role name, `pg_hba.conf:3`, a setting name, `schema.table`, `pid:123`.
 */
export interface FindingObject {
  readonly type: string;
  readonly name: string;
  /** The value that makes it offending: a setting's value, a rule's text, a privilege. */
  readonly value?: string;
}

/** Why a finding is not counted: a suppression entry that matched it. */
export interface AppliedSuppression {
  readonly reason: string;
  readonly expires?: string;
  /** `file` for .pgwarden-audit.yaml, `flag` for --ignore. */
  readonly source: 'file' | 'flag';
  /** The objects it covered; absent when it covered the whole finding. */
  readonly objects?: readonly string[];
}

export interface Finding {
  /** Stable check id, e.g. `hba.trust`. */
  readonly id: string;
  readonly area: Area;
  readonly severity: Severity;
  readonly status: Status;
  readonly title: string;
  /** What was found, with the evidence (or, for a skip, why it could not run). */
  readonly detail: string;
  /** The offending objects of a failing finding (after suppressions). */
  readonly objects: readonly FindingObject[];
  readonly rationale: string;
  /** SQL or configuration lines that fix it. */
  readonly remediation: string;
  /** CIS PostgreSQL Benchmark sections and documentation. */
  readonly references: readonly string[];
  /** For a skip caused by a missing privilege: the GRANT that would enable the check. */
  readonly enable?: string;
  /** Set when suppressions cover the whole failing finding: it is not counted. */
  readonly suppressed?: AppliedSuppression;
  /** Objects of a failing finding that suppressions removed. */
  readonly suppressedObjects?: readonly FindingObject[];
  /** Set when `--baseline` already had this failing finding (all its objects): it is not counted. */
  readonly inBaseline?: boolean;
}

/** True for a failing finding that counts (not suppressed, not in the baseline). */
export function isActiveFailure(finding: Finding): boolean {
  return finding.status === 'fail' && !finding.suppressed && !finding.inBaseline;
}
