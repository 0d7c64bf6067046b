import { DEFAULT_WARN_DAYS, type CredentialEnvironment } from './environment.js';

export type ExpiryStatus = 'expired' | 'expiring' | 'healthy' | 'no-expiry';

export interface ExpiryEntry {
  readonly name: string;
  readonly status: ExpiryStatus;
  readonly expiresAt: Date | undefined;
  /** Whole days left (negative once expired); undefined without expiry. */
  readonly daysLeft: number | undefined;
  readonly production: boolean;
}

export interface ExpiryReport {
  /** False when any environment has expired: `pgwarden creds check` exits 1. */
  readonly ok: boolean;
  readonly warnDays: number;
  readonly expired: readonly ExpiryEntry[];
  readonly expiring: readonly ExpiryEntry[];
  readonly healthy: readonly ExpiryEntry[];
  readonly noExpiry: readonly ExpiryEntry[];
}

/** Groups environments into expired, expiring within `warnDays` (default 14), healthy, and without expiry. */
export function checkExpiry(
  environments: readonly CredentialEnvironment[],
  options: { now?: Date; warnDays?: number } = {},
): ExpiryReport {
  const now = options.now ?? new Date();
  const warnDays = options.warnDays ?? DEFAULT_WARN_DAYS;
  const entries = environments.map((env): ExpiryEntry => {
    if (!env.expiresAt) {
      return {
        name: env.name,
        status: 'no-expiry',
        expiresAt: undefined,
        daysLeft: undefined,
        production: env.production,
      };
    }
    const msLeft = env.expiresAt.getTime() - now.getTime();
    // Whole days, counted as a person would: 89.9 days left is "90 days", 3.2 days past is "3 days ago".
    const daysLeft = msLeft > 0 ? Math.ceil(msLeft / 86_400_000) : Math.trunc(msLeft / 86_400_000) || 0;
    const status: ExpiryStatus =
      msLeft <= 0 ? 'expired' : msLeft <= warnDays * 86_400_000 ? 'expiring' : 'healthy';
    return { name: env.name, status, expiresAt: env.expiresAt, daysLeft, production: env.production };
  });
  const of = (status: ExpiryStatus) => entries.filter((e) => e.status === status);
  const expired = of('expired');
  return {
    ok: expired.length === 0,
    warnDays,
    expired,
    expiring: of('expiring'),
    healthy: of('healthy'),
    noExpiry: of('no-expiry'),
  };
}
