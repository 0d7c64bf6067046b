/**
 * Where a pool's credentials come from: the resolved config alone, or a
 * secrets backend (the `secrets` option, SECRETS_BACKEND, or a password
 * function as pg accepts) behind its cache, fetched once before the config is
 * resolved so a broken backend fails early and the policy judges the real
 * password.
 */
import type { Env } from '../config/env-source.js';
import type { ConfigWarning } from '../config/layer.js';
import { resolveConfig } from '../config/resolve.js';
import type { ConfigOptions, ResolvedConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Secret } from '../redact/secret.js';
import { CachedCredentials } from '../secrets/cache.js';
import type { SecretProvider } from '../secrets/provider.js';
import { createProviderFromEnv } from '../secrets/select.js';
import { backendCredentials, configCredentials, type CredentialSource } from './credential-source.js';
import type { CreatePoolOptions } from './pool-options.js';

/** How often an idle pool looks at its credentials for rotations (at most the cache TTL). */
const DEFAULT_SECRET_POLL_MS = 30_000;

/** A resolved config with the credentials that go with it. */
export interface PoolResolution {
  readonly config: ResolvedConfig;
  readonly warnings: readonly ConfigWarning[];
  readonly credentials: CredentialSource;
}

/** True when credentials come from a backend, so the config waits for its answer. */
export function usesSecretsBackend(options: CreatePoolOptions): boolean {
  const env: Env = options.env ?? process.env;
  return Boolean(
    options.secrets ||
    typeof options.password === 'function' ||
    env.SECRETS_BACKEND ||
    env.DB_PASSWORD_FILE ||
    env.DB_USER_FILE,
  );
}

/** pg's `password: () => string | Promise<string>`, as a provider behind the cache. */
function passwordFunctionProvider(fn: () => string | Promise<string>): SecretProvider {
  return {
    name: 'password-function',
    fetch: async () => ({ password: new Secret(String(await fn())) }),
    describe: () => ({ backend: 'password-function' }),
  };
}

function configOptions(options: CreatePoolOptions): ConfigOptions & { env?: Env } {
  const { password, ...rest } = options;
  return typeof password === 'function' ? rest : { ...rest, password };
}

/** Resolves the config when no backend is involved: synchronous, as `new pg.Pool()` is. */
export function resolveWithoutSecrets(options: CreatePoolOptions): PoolResolution {
  const resolved = resolveConfig(configOptions(options));
  return { ...resolved, credentials: configCredentials(resolved.config) };
}

/**
 * Resolves the config; when a secrets backend is configured, fetches the
 * credentials once first: what the backend stores (host, sslmode, the CA…)
 * may be what makes the config valid.
 */
export async function resolveWithSecrets(
  options: CreatePoolOptions,
  logger: Logger,
): Promise<PoolResolution> {
  if (!usesSecretsBackend(options)) return resolveWithoutSecrets(options);
  const env = options.env ?? process.env;
  if (typeof options.password === 'function' && options.secrets) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      'A password function and a secrets backend were both given.',
      {
        option: 'options.password',
        fix: 'Keep one source of credentials.',
      },
    );
  }
  const secretLogger = options.logger ? logger : undefined;
  const provider =
    typeof options.password === 'function'
      ? passwordFunctionProvider(options.password)
      : (options.secrets ??
        createProviderFromEnv(env, { environment: options.environment, logger: secretLogger }));
  const cache =
    provider instanceof CachedCredentials
      ? provider
      : new CachedCredentials(provider, {
          ...options.secretsCache,
          ...(secretLogger ? { logger: secretLogger } : {}),
        });
  try {
    const fetched = await cache.get();
    const resolved = resolveConfig({
      ...configOptions(options),
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
