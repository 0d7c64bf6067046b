/**
 * Connecting with a stored environment: always through `createPool` (TLS,
 * coded errors, redaction), never a hand-built client. The environment's
 * fields are the only configuration source (`env: {}`), so a DATABASE_URL or
 * PGHOST in the shell cannot redirect a rotation to another server.
 */
import type { CreatePoolOptions } from '../pool/pool.js';
import { createPool, type WardenPool } from '../pool/pool.js';
import type { Secret } from '../redact/secret.js';
import type { CredentialEnvironment } from './environment.js';

/** Pool options for `environment`, logging in as `user` (default: its user) with `password`. */
export function environmentPoolOptions(
  environment: CredentialEnvironment,
  password: Secret,
  user: string | undefined = environment.user,
): CreatePoolOptions {
  return {
    env: {},
    ...(environment.host !== undefined ? { host: environment.host } : {}),
    ...(environment.port !== undefined ? { port: environment.port } : {}),
    ...(environment.database !== undefined ? { database: environment.database } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(environment.sslMode !== undefined ? { sslMode: environment.sslMode } : {}),
    ...(environment.sslRootCert !== undefined ? { sslRootCert: environment.sslRootCert } : {}),
    password,
    environment: environment.production ? 'production' : 'development',
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
