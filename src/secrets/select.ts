import { ENVIRONMENT_VARIABLES, normalizeEnvironment } from '../config/environment.js';
import { backendError } from './backend-error.js';
import { awsSecretsManagerSettingsFromEnv, createAwsSecretsManagerProvider } from './aws-secrets-manager.js';
import { awsSsmSettingsFromEnv, createAwsSsmProvider } from './aws-ssm.js';
import { createDotenvProvider, dotenvSettingsFromEnv } from './dotenv.js';
import { createEnvProvider, envSettingsFromEnv } from './env.js';
import { readVar, type EnvSource } from './env-source.js';
import { createFileProvider, fileSettingsFromEnv } from './file.js';
import { createKeychainProvider, keychainSettingsFromEnv } from './keychain.js';
import type { SecretLogger } from './logger.js';
import type { SecretProvider } from './provider.js';
import { createRdsIamProvider, rdsIamSettingsFromEnv } from './rds-iam.js';
import { createVaultDatabaseProvider, vaultDatabaseSettingsFromEnv } from './vault-database.js';
import { createVaultProvider, vaultSettingsFromEnv } from './vault.js';

/** Every value `SECRETS_BACKEND` accepts. */
export const SECRETS_BACKENDS = [
  'env',
  'dotenv',
  'file',
  'aws-secrets-manager',
  'aws-ssm',
  'vault',
  'vault-database',
  'rds-iam',
  'keychain',
] as const;

export type SecretsBackendName = (typeof SECRETS_BACKENDS)[number];

/** Options of {@link createProviderFromEnv}. */
export interface ProviderFromEnvOptions {
  /**
   * The deployment environment (`production`, `staging`, `development`,
   * `test`, or an alias). Decides whether `dotenv` is allowed.
   * Default: `APP_ENV`, `NODE_ENV`, `ENVIRONMENT` of `env`, else `development`.
   */
  environment?: string | undefined;
  /** Passed to providers that log (file, vault, vault-database, keychain, aws). Default: process warnings. */
  logger?: SecretLogger | undefined;
}

/**
 * Builds the provider `SECRETS_BACKEND` names, from the variables documented
 * for it in docs/secrets.md. Unset `SECRETS_BACKEND` means `file` when
 * `DB_PASSWORD_FILE` is set (the Docker convention works without ceremony),
 * else `env`. Settings are validated here, so a missing variable fails at
 * startup with `PGW_SECRET_CONFIG` naming it, not at the first query.
 */
export function createProviderFromEnv(env: EnvSource, options: ProviderFromEnvOptions = {}): SecretProvider {
  const explicit = readVar(env, 'SECRETS_BACKEND')?.trim().toLowerCase();
  const name = explicit ?? (readVar(env, 'DB_PASSWORD_FILE') !== undefined ? 'file' : 'env');
  const logger = options.logger;
  const withLogger = <T extends object>(settings: T): T => (logger ? { ...settings, logger } : settings);

  switch (name as SecretsBackendName) {
    case 'env':
      return createEnvProvider(envSettingsFromEnv(env));
    case 'dotenv':
      return createDotenvProvider(dotenvSettingsFromEnv(env, options.environment ?? environmentOf(env)));
    case 'file':
      return createFileProvider(withLogger(fileSettingsFromEnv(env)));
    case 'aws-secrets-manager':
      return createAwsSecretsManagerProvider(withLogger(awsSecretsManagerSettingsFromEnv(env)));
    case 'aws-ssm':
      return createAwsSsmProvider(withLogger(awsSsmSettingsFromEnv(env)));
    case 'vault':
      return createVaultProvider(withLogger(vaultSettingsFromEnv(env)));
    case 'vault-database':
      return createVaultDatabaseProvider(withLogger(vaultDatabaseSettingsFromEnv(env)));
    case 'rds-iam':
      return createRdsIamProvider(rdsIamSettingsFromEnv(env));
    case 'keychain':
      return createKeychainProvider(withLogger(keychainSettingsFromEnv(env, logger)));
    default:
      throw backendError(
        'PGW_SECRET_UNKNOWN_BACKEND',
        name.slice(0, 40),
        `SECRETS_BACKEND names no known backend; known: ${SECRETS_BACKENDS.join(', ')}.`,
        { option: 'SECRETS_BACKEND', fix: `Set SECRETS_BACKEND to one of: ${SECRETS_BACKENDS.join(', ')}.` },
      );
  }
}

/** The environment named by APP_ENV, NODE_ENV or ENVIRONMENT; unknown names are kept as given. */
function environmentOf(env: EnvSource): string {
  for (const name of ENVIRONMENT_VARIABLES) {
    const value = readVar(env, name);
    if (value !== undefined) return normalizeEnvironment(value) ?? value;
  }
  return 'development';
}
