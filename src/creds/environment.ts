/**
 * One stored environment (`prod`, `staging`…): where to connect and when its
 * password was set and must be rotated by. The password itself is never part
 * of this object; it lives in the OS keychain or the encrypted file.
 */
import type { z as Zod } from 'zod';
import { loadZod } from '../config/zod.js';
import type { SslMode } from '../config/schema.js';
import { ENVIRONMENT_NAME, keychainSchemas } from '../secrets/keychain-store-format.js';
import { CredsError } from './creds-error.js';

/** Where an environment's password is kept. */
export type StoreKind = 'keychain' | 'file';
/** `single`: one login role whose password changes. `alternating`: `<user>` and `<user>_clone` take turns. */
export type RotationStrategy = 'single' | 'alternating';

export const DEFAULT_EXPIRES_DAYS = 90;
/** `check` calls an environment "expiring" within this many days of its expiry. */
export const DEFAULT_WARN_DAYS = 14;

/**
 * The on-disk metadata of one environment: the fields the `keychain` secrets
 * backend reads (src/secrets/keychain-store-format.ts) plus the ones only
 * `pgwarden creds` uses. The backend ignores unknown fields, and none of these
 * names looks like a secret (the format refuses such keys).
 */
// The same zod instance as the schema it extends (the lazily loaded one).
const z = loadZod();
export const storedEnvironmentSchema = keychainSchemas().environment.extend({
  /** Rotation strategy; default `single`. */
  strategy: z.enum(['single', 'alternating']).optional(),
  /** Alternating strategy: the `<user>` of the pair `<user>` / `<user>_clone`. */
  base_user: z.string().min(1).optional(),
  /** Alternating strategy: the NOLOGIN role that holds the grants. */
  group_role: z.string().min(1).optional(),
  /** Days from `updated_at` to `expires_at`, reused by rotation; 0 = no expiry. */
  expires_days: z.number().int().min(0).max(36_500).optional(),
});
export type StoredEnvironment = Zod.infer<typeof storedEnvironmentSchema>;

/** An environment as the library API returns it. */
export interface CredentialEnvironment {
  readonly name: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly database: string | undefined;
  /** The login role; with the alternating strategy, the one currently in use. */
  readonly user: string | undefined;
  readonly sslMode: SslMode | undefined;
  /** CA bundle path, or `system`. */
  readonly sslRootCert: string | undefined;
  readonly production: boolean;
  readonly store: StoreKind;
  readonly strategy: RotationStrategy;
  readonly baseUser: string | undefined;
  readonly groupRole: string | undefined;
  readonly updatedAt: Date | undefined;
  readonly expiresAt: Date | undefined;
  /** Days between a password change and its expiry; 0 when expiry is off. */
  readonly expiresDays: number;
}

/** Fields callers may set on an environment. */
export interface EnvironmentFields {
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  user?: string | undefined;
  sslMode?: SslMode | undefined;
  sslRootCert?: string | undefined;
  production?: boolean | undefined;
}

export function toCredentialEnvironment(name: string, stored: StoredEnvironment): CredentialEnvironment {
  const updatedAt = stored.updated_at === undefined ? undefined : new Date(stored.updated_at);
  const expiresAt = stored.expires_at === undefined ? undefined : new Date(stored.expires_at);
  const expiresDays =
    stored.expires_days ??
    (updatedAt && expiresAt ? Math.round((expiresAt.getTime() - updatedAt.getTime()) / 86_400_000) : 0);
  return Object.freeze({
    name,
    host: stored.host,
    port: stored.port,
    database: stored.database,
    user: stored.user,
    sslMode: stored.sslmode,
    sslRootCert: stored.sslrootcert,
    production: stored.production ?? false,
    store: stored.store ?? 'keychain',
    strategy: stored.strategy ?? 'single',
    baseUser: stored.base_user,
    groupRole: stored.group_role,
    updatedAt,
    expiresAt,
    expiresDays,
  });
}

/** Environment names are keychain account names and file keys: keep them portable. */
export function assertEnvironmentName(name: string): void {
  if (!ENVIRONMENT_NAME.test(name)) {
    throw new CredsError('PGW_CREDS_INVALID', `"${name.slice(0, 80)}" is not a valid environment name.`, {
      option: '<env>',
      fix: 'Use letters, digits, ".", "_" and "-" (at most 64, starting with a letter or digit), e.g. prod.',
    });
  }
}

/** Validates `expiresDays`: a whole number of days, 0 turning expiry off. */
export function assertExpiresDays(days: number): void {
  if (!Number.isInteger(days) || days < 0 || days > 36_500) {
    throw new CredsError('PGW_CREDS_INVALID', 'The expiry must be a whole number of days from 0 to 36500.', {
      option: '--expires-days',
      fix: 'Pass e.g. --expires-days 90, or --expires-days 0 to turn expiry off.',
    });
  }
}

/** The metadata of a password set at `now`, expiring `days` later (never when 0). */
export function expiryFields(
  now: Date,
  days: number,
): Pick<StoredEnvironment, 'updated_at' | 'expires_at' | 'expires_days'> {
  assertExpiresDays(days);
  return {
    updated_at: now.toISOString(),
    expires_at: days === 0 ? undefined : new Date(now.getTime() + days * 86_400_000).toISOString(),
    expires_days: days,
  };
}
