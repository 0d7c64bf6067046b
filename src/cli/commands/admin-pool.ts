/**
 * The administrator connection of `roles` and `incident`: a stored profile
 * (`--profile`, default `DB_PROFILE`; `--admin-env` is its deprecated
 * spelling), else `--url`, else the environment as `doctor` reads it
 * (DATABASE_URL, DB_*, PG*). Always a WardenPool with the policy reported
 * rather than enforced about the role, never about the link.
 */
import type { CredentialStore } from '../../creds/store.js';
import { createPool, type CreatePoolOptions, type WardenPool } from '../../pool/pool.js';
import { connectionTarget, type TargetFlags } from '../connection-flags.js';

export type AdminFlags = Pick<TargetFlags, 'url' | 'profile' | 'adminEnv'>;

export async function adminPoolOptions(
  flags: AdminFlags,
  overrides: Partial<CreatePoolOptions> = {},
  store?: () => CredentialStore,
): Promise<CreatePoolOptions> {
  const base = await connectionTarget(flags, store ? { store } : {});
  return { ...base, purpose: 'admin', checkRole: false, max: 2, ...overrides };
}

export async function openAdminPool(
  flags: AdminFlags,
  overrides: Partial<CreatePoolOptions> = {},
  store?: () => CredentialStore,
): Promise<WardenPool> {
  return createPool(await adminPoolOptions(flags, overrides, store));
}
