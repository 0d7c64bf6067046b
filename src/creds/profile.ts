/**
 * A profile: a stored connection (`pgwarden creds add NAME`), reached by
 * name. Commands that connect take `--profile NAME` (default `DB_PROFILE`)
 * and the application takes `SECRETS_BACKEND=keychain DB_PROFILE=NAME`: the
 * same name in both places, from either store (OS keychain or encrypted file).
 *
 * The profile's fields are the only configuration source (`env: {}`), so a
 * DATABASE_URL or PGHOST in the shell cannot point a command at another
 * server than the one the profile names.
 */
import { join } from 'node:path';
import type { Env } from '../config/env-source.js';
import type { ConfigOptions } from '../config/schema.js';
import { closestName } from '../config/suggest.js';
import { ConfigError } from '../errors.js';
import type { Secret } from '../redact/secret.js';
import { KEYCHAIN_STORE_FILE } from '../secrets/keychain-store-format.js';
import type { CredentialEnvironment } from './environment.js';
import { CredentialStore } from './store.js';

/** Connection options (for createPool, runDoctor, runAudit, backups) that log in with a profile. */
export type ProfileConnectionOptions = ConfigOptions & { env: Env };

/**
 * The config options of `profile` logging in as `user` (default: its user)
 * with `password`. A profile marked production is judged as production,
 * any other as development.
 */
export function profileConfigOptions(
  profile: CredentialEnvironment,
  password: Secret,
  user: string | undefined = profile.user,
): ProfileConnectionOptions {
  return {
    env: {},
    ...(profile.host !== undefined ? { host: profile.host } : {}),
    ...(profile.port !== undefined ? { port: profile.port } : {}),
    ...(profile.database !== undefined ? { database: profile.database } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(profile.sslMode !== undefined ? { sslMode: profile.sslMode } : {}),
    ...(profile.sslRootCert !== undefined ? { sslRootCert: profile.sslRootCert } : {}),
    password,
    environment: profile.production ? 'production' : 'development',
  };
}

/**
 * The stored profile `name` and its password, from `store` (default: the
 * store of `$PGWARDEN_HOME`).
 * @throws ConfigError `PGW_CONFIG_PROFILE_UNKNOWN` when no profile has that name.
 */
export async function loadProfile(
  name: string,
  store: CredentialStore = new CredentialStore(),
  options: { legacy?: boolean } = {},
): Promise<{ profile: CredentialEnvironment; password: Secret }> {
  // legacy (the deprecated --admin-env): the store's own PGW_CREDS_UNKNOWN_ENV, as before.
  if (!options.legacy && !(await store.has(name))) {
    const known = (await store.list()).map((p) => p.name);
    const guess = closestName(name, known);
    const shown = name.slice(0, 80);
    throw new ConfigError(
      'PGW_CONFIG_PROFILE_UNKNOWN',
      `No profile is called "${shown}" in ${join(store.home, KEYCHAIN_STORE_FILE)} (which lists the profiles of the OS keychain and of the encrypted file).`,
      {
        option: '--profile',
        fix: guess
          ? `Did you mean "${guess}"? See: pgwarden creds list`
          : `Store it with: pgwarden creds add ${shown} (see: pgwarden creds list)`,
      },
    );
  }
  const profile = await store.get(name);
  return { profile, password: await store.password(name) };
}

/** {@link loadProfile} then {@link profileConfigOptions}: options that connect as the profile. */
export async function profileConnection(
  name: string,
  store?: CredentialStore,
  options: { legacy?: boolean } = {},
): Promise<ProfileConnectionOptions> {
  const { profile, password } = await loadProfile(name, store, options);
  return profileConfigOptions(profile, password);
}
