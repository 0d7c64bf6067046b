/**
 * The administrator connection of `roles` and `incident` (and `creds rotate
 * --admin-env`): `--url`, else a stored creds environment (`--admin-env`),
 * else the environment as `doctor` reads it (DATABASE_URL, DB_*, PG*).
 * Always a WardenPool with the policy reported rather than enforced.
 */
import { environmentPoolOptions } from '../../creds/connect.js';
import { CredentialStore } from '../../creds/store.js';
import { CliUsageError } from '../../errors.js';
import { createPool, type CreatePoolOptions, type WardenPool } from '../../pool/pool.js';

export interface AdminFlags {
  url?: string;
  adminEnv?: string;
}

export async function adminPoolOptions(
  flags: AdminFlags,
  overrides: Partial<CreatePoolOptions> = {},
): Promise<CreatePoolOptions> {
  if (flags.url !== undefined && flags.adminEnv !== undefined) {
    throw new CliUsageError('--url and --admin-env both name the admin connection.', {
      option: '--admin-env',
      fix: 'Pass one of them.',
    });
  }
  const base: CreatePoolOptions = flags.adminEnv
    ? await (async () => {
        const store = new CredentialStore();
        return environmentPoolOptions(
          await store.get(flags.adminEnv as string),
          await store.password(flags.adminEnv as string),
        );
      })()
    : { ...(flags.url !== undefined ? { url: flags.url } : {}) };
  return { ...base, purpose: 'admin', checkRole: false, max: 2, ...overrides };
}

export async function openAdminPool(
  flags: AdminFlags,
  overrides: Partial<CreatePoolOptions> = {},
): Promise<WardenPool> {
  return createPool(await adminPoolOptions(flags, overrides));
}
