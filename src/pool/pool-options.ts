/**
 * The options of `createPool()` and `new WardenPool()`: every config option
 * (src/config/schema.ts), node-postgres' own Pool options under their pg
 * names, and what only a pool needs (a logger, a secrets backend, the
 * purpose of its connections).
 */
import type pg from 'pg';
import type { Env } from '../config/env-source.js';
import type { ConnectionPurpose } from '../config/gate.js';
import type { PgCompatibleOptions } from '../config/pg-options.js';
import type { ConfigOptions } from '../config/schema.js';
import type { LoggerLike } from '../logger.js';
import type { Secret } from '../redact/secret.js';
import type { CachedCredentials, CachedCredentialsOptions } from '../secrets/cache.js';
import type { SecretProvider } from '../secrets/provider.js';

/** pg options handed to node-postgres unchanged (they do not touch security). */
export type PgPassthroughOptions = Pick<
  pg.PoolConfig,
  | 'types'
  | 'maxUses'
  | 'allowExitOnIdle'
  | 'log'
  | 'Promise'
  | 'onConnect'
  | 'verify'
  | 'keepAlive'
  | 'keepAliveInitialDelayMillis'
  | 'client_encoding'
  | 'options'
>;

export interface CreatePoolOptions
  extends Omit<ConfigOptions, 'password'>, PgCompatibleOptions, PgPassthroughOptions {
  /**
   * Password; prefer a secrets backend in production. Held as a {@link Secret}.
   * A function (as pg accepts) is asked for a password when credentials are
   * needed, behind the secrets cache.
   */
  password?: string | Secret | (() => string | Promise<string>) | undefined;
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
   * What the connections are for. `application` (default) enforces every
   * production rule. `admin` is for operators' tools: the rules about the
   * role (a privileged role) and the password source are reported in
   * `pool.startup.violations` instead of refusing; the rules about the link
   * (TLS, verification, TLS version) are enforced in production all the same.
   */
  purpose?: ConnectionPurpose;
  /**
   * @deprecated Use `purpose: 'admin'`. `false` now means exactly that: it
   * never relaxes the TLS rules in production.
   */
  enforcePolicy?: boolean;
}
