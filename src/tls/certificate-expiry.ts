/**
 * When a server certificate counts as expiring, and how that is said.
 * doctor, audit (tls.server-cert-expiry) and alerts (server-certificate) all
 * judge and word it here, so one certificate never gets three verdicts: a
 * certificate with 19 days left is "expiring" for all three, in the same
 * words.
 */

/** Renewal needs lead time: within this many days, a certificate is expiring (each command can override it). */
export const CERTIFICATE_EXPIRY_DAYS = 30;

const DAY_MS = 86_400_000;

/** `expired`: past its notAfter. `expiring`: less than the threshold left. `valid`: the rest. */
export type CertificateExpiryLevel = 'expired' | 'expiring' | 'valid';

export interface CertificateExpiry {
  readonly level: CertificateExpiryLevel;
  /** Whole days left, rounded down (negative once expired: -1 on the day after). */
  readonly daysLeft: number;
  /** The certificate's notAfter, ISO 8601. */
  readonly validTo: string;
  readonly thresholdDays: number;
}

/** Judges a certificate valid until `validTo`, at `now`. */
export function certificateExpiry(
  validTo: string | Date,
  now: Date | number = Date.now(),
  thresholdDays: number = CERTIFICATE_EXPIRY_DAYS,
): CertificateExpiry {
  const end = new Date(validTo).getTime();
  const msLeft = end - new Date(now).getTime();
  const level: CertificateExpiryLevel =
    msLeft <= 0 ? 'expired' : msLeft < thresholdDays * DAY_MS ? 'expiring' : 'valid';
  return {
    level,
    daysLeft: Math.floor(msLeft / DAY_MS),
    validTo: new Date(end).toISOString(),
    thresholdDays,
  };
}

/** How serious it is, in the audit's severities (doctor marks it the same way). */
export const CERTIFICATE_EXPIRY_SEVERITY = { expired: 'critical', expiring: 'high' } as const;

const days = (n: number): string => `${n} day${n === 1 ? '' : 's'}`;

/**
 * `expires in 19 days (2027-01-05T10:00:00.000Z), within the 30-day renewal threshold`,
 * `expired 2 days ago (…)`, or `expires in 340 days (…)`.
 */
export function describeCertificateExpiry(expiry: CertificateExpiry): string {
  const when = `(${expiry.validTo})`;
  if (expiry.level === 'expired') {
    const ago = -expiry.daysLeft - 1;
    return ago <= 0 ? `expired today ${when}` : `expired ${days(ago)} ago ${when}`;
  }
  const left = `expires in ${days(expiry.daysLeft)} ${when}`;
  return expiry.level === 'expiring'
    ? `${left}, within the ${expiry.thresholdDays}-day renewal threshold`
    : left;
}
