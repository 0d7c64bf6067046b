import { Secret } from '../redact/secret.js';
import { backendError } from './backend-error.js';
import { firstVar, type EnvSource } from './env-source.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';

/** Variables read for the user, in order. */
export const ENV_USER_VARIABLES = ['DB_USER', 'PGUSER'] as const;
/** Variables read for the password, in order. */
export const ENV_PASSWORD_VARIABLES = ['DB_PASSWORD', 'PGPASSWORD'] as const;

/** Settings of the `env` backend. */
export interface EnvProviderSettings {
  /** The login role. Default: none (the connection settings decide). */
  user?: string | undefined;
  /** The password, already wrapped. Default: none. */
  password?: Secret | undefined;
  /** The variable the password came from, shown by `describe()`. Default: `DB_PASSWORD`. */
  passwordVariable?: string | undefined;
  /**
   * Fail when there is no password. Default: `true`. Turn off for
   * certificate, peer or trust authentication, where no password is needed.
   */
  requirePassword?: boolean | undefined;
}

/**
 * Reads `DB_USER`/`DB_PASSWORD`, falling back to `PGUSER`/`PGPASSWORD`. The
 * password becomes a {@link Secret} here, once, so the provider never holds
 * the plaintext as a plain string.
 */
export function envSettingsFromEnv(env: EnvSource): EnvProviderSettings {
  const user = firstVar(env, ENV_USER_VARIABLES);
  const password = firstVar(env, ENV_PASSWORD_VARIABLES);
  return {
    user: user?.value,
    password: password === undefined ? undefined : new Secret(password.value),
    passwordVariable: password?.name,
  };
}

/**
 * The `env` backend: credentials from plain environment variables. Fine for
 * development; the production policy (strict profile) flags it, because the
 * password is visible in `/proc/<pid>/environ` and in orchestrator specs.
 */
export function createEnvProvider(settings: EnvProviderSettings): SecretProvider {
  const frozen = Object.freeze({ ...settings });
  const requirePassword = frozen.requirePassword ?? true;
  return {
    name: 'env',
    async fetch(): Promise<Credentials> {
      if (frozen.password === undefined && requirePassword) {
        throw backendError('PGW_SECRET_FIELD_MISSING', 'env', 'neither DB_PASSWORD nor PGPASSWORD is set.', {
          option: 'DB_PASSWORD',
          fix: 'Set DB_PASSWORD, or choose another SECRETS_BACKEND (file, vault, aws-secrets-manager, …).',
        });
      }
      return {
        ...(frozen.user === undefined ? {} : { user: frozen.user }),
        ...(frozen.password === undefined ? {} : { password: frozen.password }),
      };
    },
    describe(): ProviderDescription {
      return {
        backend: 'env',
        user: frozen.user,
        passwordSource:
          frozen.password === undefined ? undefined : (frozen.passwordVariable ?? 'DB_PASSWORD'),
      };
    },
  };
}
