/**
 * Where a pool's credentials come from: the resolved config alone, or a
 * secrets backend (the `secrets` option or SECRETS_BACKEND) behind its cache,
 * fetched once at startup so a broken backend fails early and the policy
 * judges the real password.
 */
import type { Env } from '../config/env-source.js';
import type { ConfigWarning } from '../config/layer.js';
import { resolveConfig } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { CachedCredentials } from '../secrets/cache.js';
import { createProviderFromEnv } from '../secrets/select.js';
import { backendCredentials, configCredentials, type CredentialSource } from './credential-source.js';
import type { CreatePoolOptions } from './pool.js';

/** How often an idle pool looks at its credentials for rotations (at most the cache TTL). */
const DEFAULT_SECRET_POLL_MS = 30_000;

/** True when the environment asks for a secrets backend (an explicit one, or the *_FILE convention). */
function backendRequested(env: Env): boolean {
  return Boolean(env.SECRETS_BACKEND || env.DB_PASSWORD_FILE || env.DB_USER_FILE);
}

/**
 * Resolves the config; when a secrets backend is configured (the `secrets`
 * option or SECRETS_BACKEND), fetches the credentials once so that startup
 * fails early on a broken backend and the policy judges the real password.
 */
export async function resolveWithSecrets(
  options: CreatePoolOptions,
  logger: Logger,
): Promise<{ config: ResolvedConfig; warnings: readonly ConfigWarning[]; credentials: CredentialSource }> {
  const env = options.env ?? process.env;
  if (!options.secrets && !backendRequested(env)) {
    const resolved = resolveConfig(options);
    return { ...resolved, credentials: configCredentials(resolved.config) };
  }
  // The config is resolved only once the backend has answered: what it
  // stores (host, sslmode, the CA…) may be what makes the config valid.
  const secretLogger = options.logger ? logger : undefined;
  const cache =
    options.secrets instanceof CachedCredentials
      ? options.secrets
      : new CachedCredentials(
          options.secrets ??
            createProviderFromEnv(env, { environment: options.environment, logger: secretLogger }),
          { ...options.secretsCache, ...(secretLogger ? { logger: secretLogger } : {}) },
        );
  try {
    const fetched = await cache.get();
    const resolved = resolveConfig({
      ...options,
      secretCredentials: { backend: cache.backend, credentials: fetched },
    });
    // An IAM token is a password AWS accepts only over TLS; never send one in the clear.
    if (
      cache.backend === 'rds-iam' &&
      ['disable', 'allow', 'prefer'].includes(resolved.config.tls.effectiveMode)
    ) {
      throw new ConfigError(
        'PGW_CONFIG_CONFLICT',
        `SECRETS_BACKEND=rds-iam needs TLS, but sslmode is "${resolved.config.tls.effectiveMode}".`,
        {
          option: resolved.config.sources.sslMode ?? 'sslMode',
          fix: 'Use sslmode=verify-full with the RDS CA bundle (DB_SSL=true, DB_SSL_CA=global-bundle.pem).',
        },
      );
    }
    const pollMs = Math.min(options.secretsCache?.ttlMs ?? DEFAULT_SECRET_POLL_MS, DEFAULT_SECRET_POLL_MS);
    return { ...resolved, credentials: backendCredentials(resolved.config, cache, pollMs) };
  } catch (error) {
    await cache.close();
    throw error;
  }
}
