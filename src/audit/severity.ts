/**
 * Severities and statuses of audit findings, with the ordering `--fail-on`
 * compares against.
 */
import { CliUsageError } from '../errors.js';

/** From most to least severe. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * What happened to a check: `pass` (evidence shows it is fine), `fail`
 * (evidence shows it is not), `skip` (it could not run: missing privilege,
 * not applicable; the reason says which) or `error` (it tried and something broke).
 */
export const STATUSES = ['fail', 'error', 'skip', 'pass'] as const;
export type Status = (typeof STATUSES)[number];

/** 4 for critical down to 0 for info. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.length - 1 - SEVERITIES.indexOf(severity);
}

/** True when `severity` is `threshold` or more severe. */
export function atOrAbove(severity: Severity, threshold: Severity): boolean {
  return severityRank(severity) >= severityRank(threshold);
}

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** Parses a `--fail-on`-style value, or throws a usage error naming `option`. */
export function parseSeverity(value: string, option: string): Severity {
  const lower = value.trim().toLowerCase();
  if (isSeverity(lower)) return lower;
  throw new CliUsageError(`${option} "${value}" is not a severity.`, {
    option,
    fix: `Use one of ${SEVERITIES.join(', ')}.`,
  });
}
