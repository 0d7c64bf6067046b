import { Secret } from '../redact/secret.js';
import { backendError } from './backend-error.js';
import { readVar, requireVar, type EnvSource } from './env-source.js';
import type { SecretLogger } from './logger.js';
import type { VaultAuthSettings } from './vault-auth.js';
import type { VaultClientSettings } from './vault-client.js';

/** What both Vault backends (`vault`, `vault-database`) need to reach and log in to Vault. */
export interface VaultConnectionSettings extends VaultClientSettings {
  /** How to authenticate. Required. */
  auth: VaultAuthSettings;
  /** Receives renewal and login warnings. Default: `defaultSecretLogger`. */
  logger?: SecretLogger | undefined;
}

const AUTH_METHODS = ['token', 'approle', 'kubernetes'] as const;

/**
 * Reads `VAULT_ADDR` (required), `VAULT_NAMESPACE`, `VAULT_CACERT` and the
 * auth variables. The method is `VAULT_AUTH_METHOD` when set, else the first
 * configured of: `VAULT_TOKEN`; `VAULT_ROLE_ID` + `VAULT_SECRET_ID`;
 * `VAULT_K8S_ROLE` (+ `VAULT_K8S_TOKEN_PATH`).
 */
export function vaultConnectionFromEnv(env: EnvSource, backend: string): VaultConnectionSettings {
  return {
    address: requireVar(env, 'VAULT_ADDR', backend, 'the Vault server, e.g. https://vault.example.com:8200'),
    namespace: readVar(env, 'VAULT_NAMESPACE'),
    caCertFile: readVar(env, 'VAULT_CACERT'),
    auth: vaultAuthFromEnv(env, backend),
  };
}

export function vaultAuthFromEnv(env: EnvSource, backend: string): VaultAuthSettings {
  const explicit = readVar(env, 'VAULT_AUTH_METHOD');
  if (explicit !== undefined && !(AUTH_METHODS as readonly string[]).includes(explicit)) {
    throw backendError(
      'PGW_SECRET_CONFIG',
      backend,
      `VAULT_AUTH_METHOD must be one of ${AUTH_METHODS.join(', ')}.`,
      {
        option: 'VAULT_AUTH_METHOD',
        fix: 'Set VAULT_AUTH_METHOD=token, approle or kubernetes, or unset it to pick from the variables that are set.',
      },
    );
  }
  const method =
    explicit ??
    (readVar(env, 'VAULT_TOKEN') !== undefined
      ? 'token'
      : readVar(env, 'VAULT_ROLE_ID') !== undefined || readVar(env, 'VAULT_SECRET_ID') !== undefined
        ? 'approle'
        : readVar(env, 'VAULT_K8S_ROLE') !== undefined
          ? 'kubernetes'
          : undefined);
  switch (method) {
    case 'token':
      return { method, token: new Secret(requireVar(env, 'VAULT_TOKEN', backend, 'the Vault token')) };
    case 'approle':
      return {
        method,
        roleId: requireVar(env, 'VAULT_ROLE_ID', backend, 'the AppRole role ID'),
        secretId: new Secret(requireVar(env, 'VAULT_SECRET_ID', backend, 'the AppRole secret ID')),
        mount: readVar(env, 'VAULT_APPROLE_MOUNT'),
      };
    case 'kubernetes':
      return {
        method,
        role: requireVar(env, 'VAULT_K8S_ROLE', backend, 'the Vault role bound to the service account'),
        jwtPath: readVar(env, 'VAULT_K8S_TOKEN_PATH'),
        mount: readVar(env, 'VAULT_K8S_MOUNT'),
      };
    default:
      throw backendError('PGW_SECRET_CONFIG', backend, 'no Vault authentication is configured.', {
        option: 'VAULT_TOKEN',
        fix: 'Set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID (AppRole), or VAULT_K8S_ROLE (Kubernetes).',
      });
  }
}
