/**
 * What an audit verified, per area, and what it would take to verify the
 * rest. A green mark over an area where most checks could not run says
 * "fine" about things nobody looked at: such an area is `not-verified`, in
 * every format. And the grants that would run the skipped checks are
 * gathered in one place instead of repeated under each check.
 */
import { AREA_TITLES, AREAS, isActiveFailure, type Area, type Finding } from './finding.js';

/**
 * `fail`: a counting failure. `error`: a check could not be evaluated.
 * `not-verified`: more than half of the area's checks were skipped, so its
 * passes say little. `pass`: the rest.
 */
export type AreaStatus = 'fail' | 'error' | 'not-verified' | 'pass';

export interface AreaCoverage {
  readonly area: Area;
  readonly title: string;
  readonly status: AreaStatus;
  readonly checks: number;
  readonly pass: number;
  /** Counting failures (not suppressed, not in the baseline). */
  readonly fail: number;
  readonly skip: number;
  readonly error: number;
}

/** Whether an area counts as not verified: more than half of its checks skipped. */
export function mostlySkipped(skipped: number, checks: number): boolean {
  return checks > 0 && skipped * 2 > checks;
}

/** One entry per area that has findings, in report order. */
export function areaCoverage(findings: readonly Finding[]): AreaCoverage[] {
  return AREAS.flatMap((area) => {
    const list = findings.filter((f) => f.area === area);
    if (list.length === 0) return [];
    const fail = list.filter(isActiveFailure).length;
    const count = (status: Finding['status']) => list.filter((f) => f.status === status).length;
    const skip = count('skip');
    const error = count('error');
    const status: AreaStatus =
      fail > 0 ? 'fail' : error > 0 ? 'error' : mostlySkipped(skip, list.length) ? 'not-verified' : 'pass';
    return [
      { area, title: AREA_TITLES[area], status, checks: list.length, pass: count('pass'), fail, skip, error },
    ];
  });
}

/** The grants that would run the checks skipped for lack of a privilege. */
export interface SkippedGrants {
  /** Ids of the skipped checks a grant (or a superuser audit) would run. */
  readonly checks: readonly string[];
  /** Each statement (or instruction) once, in the order the checks need them. */
  readonly grants: readonly string[];
  /** Every skipped check, including those a grant would not run (no standby, no certificate…). */
  readonly totalSkipped: number;
}

export function skippedGrants(findings: readonly Finding[]): SkippedGrants | null {
  const enabled = findings.filter((f) => f.status === 'skip' && f.enable);
  if (enabled.length === 0) return null;
  const grants = [
    ...new Set(
      enabled.flatMap((f) =>
        f
          .enable!.split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      ),
    ),
  ];
  const totalSkipped = findings.filter((f) => f.status === 'skip').length;
  return { checks: enabled.map((f) => f.id), grants, totalSkipped };
}

/** `To run the 9 skipped checks, grant:`, or `To run 20 of the 25 skipped checks, grant:`. */
export function skippedGrantsHeading(grants: SkippedGrants): string {
  const n = grants.checks.length;
  if (n === grants.totalSkipped) {
    return n === 1 ? 'To run the skipped check, grant:' : `To run the ${n} skipped checks, grant:`;
  }
  return `To run ${n} of the ${grants.totalSkipped} skipped checks, grant:`;
}
