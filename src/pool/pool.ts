/**
 * createPool(): a node-postgres pool that resolves its config from every
 * source, refuses to start insecurely in production, verifies credentials
 * and TLS before returning, and then survives faults at runtime.
 */
import { isProductionLike } from '../config/environment.js';
import type { Env } from '../config/env-source.js';
import {
  evaluateConfigPolicy,
  evaluateRolePolicy,
  ROLE_FACTS_SQL,
  type RoleFacts,
} from '../config/policy.js';
import type { ConfigOptions } from '../config/schema.js';
import { PgwardenError, PolicyError } from '../errors.js';
import { createLogger, type LoggerLike } from '../logger.js';
import { tlsSessionInfo, type TlsSessionInfo } from '../tls/session-info.js';
import { classifyQueryError } from './classify-error.js';
import { clientStream } from './warden-client.js';
import { resolveWithSecrets } from './pool-credentials.js';
import { WardenPool } from './warden-pool.js';
import type { CachedCredentials, CachedCredentialsOptions } from '../secrets/cache.js';
import type { SecretProvider } from '../secrets/provider.js';

export { resolveWithSecrets } from './pool-credentials.js';
export {
  WardenPool,
  type PoolInstruments,
  type PoolStats,
  type QueryInput,
  type StartupReport,
  type TransactionClient,
} from './warden-pool.js';

/** Options of {@link createPool}: every config option, plus these. */
export interface CreatePoolOptions extends ConfigOptions {
  /** Environment to read instead of `process.env`. */
  env?: Env;
  /** A pino- or console-like logger; lines are redacted. Default: none. */
  logger?: LoggerLike;
  /** Read the role's attributes after the first connection and apply the role rule. Default true. */
  checkRole?: boolean;
  /**
   * A secrets backend (a provider, or a cache around one). Default: the one
   * SECRETS_BACKEND names, if any; otherwise the password comes from the config.
   */
  secrets?: SecretProvider | CachedCredentials;
  /** Cache settings for the backend: TTL (default 5 min), stale grace, jitter. */
  secretsCache?: CachedCredentialsOptions;
  /**
   * Refuse to start on policy violations in production and staging. Default
   * true. Only tools that report violations themselves (doctor, audit, the
   * CLI's admin commands) turn it off; the violations are then in
   * `pool.startup.violations`.
   */
  enforcePolicy?: boolean;
}

function emitWarnings(items: readonly { code: string; message: string }[]): void {
  for (const item of items) process.emitWarning(item.message, { type: 'PgwardenWarning', code: item.code });
}

/**
 * Creates a pool and proves it works: config resolved and validated, the
 * production policy applied, one connection opened (credentials and TLS
 * verified) and the role checked. Throws a coded error instead of returning a
 * pool that cannot work or is not secure.
 */
export async function createPool(options: CreatePoolOptions = {}): Promise<WardenPool> {
  const logger = createLogger(options.logger);
  const { config, warnings, credentials } = await resolveWithSecrets(options, logger);
  emitWarnings(warnings);
  const strict = isProductionLike(config.environment) && (options.enforcePolicy ?? true);

  const violations = evaluateConfigPolicy(config);
  // Fail closed: in production an insecure config is refused before any
  // connection is opened, so a password never crosses an unverified link.
  if (strict && violations.length > 0) {
    await credentials.close();
    throw new PolicyError(violations, config.environment);
  }

  const pool = new WardenPool(config, logger, credentials);
  let tls: TlsSessionInfo | undefined;
  let role: RoleFacts | undefined;
  let serverVersion: string | undefined;
  try {
    const client = await pool.connect({ retry: false });
    try {
      tls = tlsSessionInfo(clientStream(client));
      serverVersion = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]
        ?.server_version;
      if (options.checkRole ?? true) {
        const result = await client.query<RoleFacts>(ROLE_FACTS_SQL);
        role = result.rows[0];
        if (role) violations.push(...evaluateRolePolicy(role));
      }
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.close();
    throw error instanceof PgwardenError ? error : classifyQueryError(error);
  }
  if (strict && violations.length > 0) {
    await pool.close();
    throw new PolicyError(violations, config.environment);
  }
  // Tools that turned enforcement off report the violations themselves.
  if (options.enforcePolicy ?? true) emitWarnings(violations);
  pool.startup = Object.freeze({ tls, role, serverVersion, warnings, violations });
  await pool.attachReplicas(logger);
  return pool;
}
