/**
 * Connecting with a stored environment (a profile): always through
 * `createPool` (TLS, coded errors, redaction), never a hand-built client. The
 * profile's fields are the only configuration source (`env: {}`), so a
 * DATABASE_URL or PGHOST in the shell cannot redirect a rotation to another
 * server.
 */
import type { CreatePoolOptions } from '../pool/pool.js';
import { createPool, type WardenPool } from '../pool/pool.js';
import type { Secret } from '../redact/secret.js';
import type { CredentialEnvironment } from './environment.js';
import { profileConfigOptions } from './profile.js';

/** Pool options for `environment`, logging in as `user` (default: its user) with `password`. */
export function environmentPoolOptions(
  environment: CredentialEnvironment,
  password: Secret,
  user: string | undefined = environment.user,
): CreatePoolOptions {
  return {
    ...profileConfigOptions(environment, password, user),
    applicationName: 'pgwarden creds',
    // Admin tooling reports policy violations instead of refusing (see `creds test`).
    purpose: 'admin',
    max: 2,
    // One attempt: a wrong password must not be retried against the server.
    connectionTimeoutMs: 10_000,
  };
}

/** Opens a pool for `environment` and proves it works (createPool connects once). */
export function connectEnvironment(
  environment: CredentialEnvironment,
  password: Secret,
  user?: string,
): Promise<WardenPool> {
  return createPool(environmentPoolOptions(environment, password, user));
}
