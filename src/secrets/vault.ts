import type { SecretError } from '../errors.js';
import { backendError } from './backend-error.js';
import { credentialsFromObject, type CredentialFieldMap } from './credential-fields.js';
import { readVar, requireVar, type EnvSource } from './env-source.js';
import { defaultSecretLogger } from './logger.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';
import { VaultClient, VaultHttpError } from './vault-client.js';
import { kvDataPath, parseKvPath } from './vault-path.js';
import { VaultSession } from './vault-session.js';
import { vaultConnectionFromEnv, type VaultConnectionSettings } from './vault-settings.js';

const BACKEND = 'vault';

/** Settings of the `vault` backend (KV version 2). */
export interface VaultKvSettings extends VaultConnectionSettings {
  /** `<mount>/<path>` as for `vault kv get`, e.g. `secret/takumi/production` (`VAULT_PATH`). Required. */
  path: string;
  /** The KV mount, when its name contains a slash; `path` is then inside it (`VAULT_KV_MOUNT`). Default: the first segment of `path`. */
  mount?: string | undefined;
  /** The field holding the password (`VAULT_FIELD_PASSWORD`). Default: `DB_PASSWORD`, else `password`. */
  passwordField?: string | undefined;
  /** The field holding the user (`VAULT_FIELD_USER`). Default: `DB_USER`, else `username`. */
  userField?: string | undefined;
}

/** Reads the connection variables plus `VAULT_PATH` (required), `VAULT_KV_MOUNT` and the field names. */
export function vaultSettingsFromEnv(env: EnvSource): VaultKvSettings {
  return {
    ...vaultConnectionFromEnv(env, BACKEND),
    path: requireVar(env, 'VAULT_PATH', BACKEND, 'the KV v2 secret, e.g. secret/takumi/production'),
    mount: readVar(env, 'VAULT_KV_MOUNT'),
    passwordField: readVar(env, 'VAULT_FIELD_PASSWORD'),
    userField: readVar(env, 'VAULT_FIELD_USER'),
  };
}

/**
 * The `vault` backend: a KV v2 secret, as written by
 * `vault kv put secret/takumi/production DB_PASSWORD=… DB_USER=…`.
 * `fetchPrevious()` reads the version before the current one, the KV
 * equivalent of AWSPREVIOUS.
 */
export function createVaultProvider(settings: VaultKvSettings): SecretProvider {
  const location = parseKvPath(settings.path, BACKEND, settings.mount);
  const dataPath = kvDataPath(location);
  const where = `Vault secret ${location.mount}/${location.path}`;
  const fields: CredentialFieldMap = {
    password: settings.passwordField ? [settings.passwordField] : ['DB_PASSWORD', 'password'],
    user: settings.userField ? [settings.userField] : ['DB_USER', 'username'],
    host: ['DB_HOST', 'host'],
    port: ['DB_PORT', 'port'],
    database: ['DB_NAME', 'dbname', 'database'],
  };
  const client = new VaultClient(settings, BACKEND);
  const session = new VaultSession(client, settings.auth, {
    backend: BACKEND,
    logger: settings.logger ?? defaultSecretLogger,
  });
  let lastVersion: number | undefined;

  const read = async (
    version: number | undefined,
    signal?: AbortSignal,
  ): Promise<Credentials | undefined> => {
    const query = version === undefined ? '' : `?version=${version}`;
    let answer: unknown;
    try {
      answer = await session.request('GET', `${dataPath}${query}`, { signal });
    } catch (error) {
      if (error instanceof VaultHttpError && error.status === 404) {
        if (version !== undefined) return undefined;
        throw notFound(where, location.mount, location.path);
      }
      if (error instanceof VaultHttpError) throw unexpected(error, where);
      throw error;
    }
    const data = (answer as { data?: { data?: unknown; metadata?: { version?: unknown } } } | undefined)
      ?.data;
    const secret = data?.data;
    if (secret === null || secret === undefined) {
      // Deleted (soft) or destroyed versions answer with data: null.
      if (version !== undefined) return undefined;
      throw notFound(where, location.mount, location.path);
    }
    if (typeof secret !== 'object' || Array.isArray(secret)) {
      throw backendError('PGW_SECRET_MALFORMED', BACKEND, `${where} is not a key/value map.`, {
        option: 'VAULT_PATH',
        fix: 'Check that the mount is a KV version 2 engine (vault secrets list -detailed).',
      });
    }
    const credentials = credentialsFromObject(secret as Record<string, unknown>, fields, {
      backend: BACKEND,
      where,
    });
    const v = data?.metadata?.version;
    if (typeof v === 'number') {
      credentials.version = String(v);
      if (version === undefined) lastVersion = v;
    }
    return credentials;
  };

  return {
    name: BACKEND,
    async fetch(signal?: AbortSignal): Promise<Credentials> {
      return (await read(undefined, signal)) as Credentials;
    },
    async fetchPrevious(signal?: AbortSignal): Promise<Credentials | undefined> {
      if (lastVersion === undefined) await read(undefined, signal);
      if (lastVersion === undefined || lastVersion <= 1) return undefined;
      return read(lastVersion - 1, signal);
    },
    close: () => session.close(),
    describe(): ProviderDescription {
      return {
        backend: BACKEND,
        address: client.address.origin,
        namespace: client.namespace,
        mount: location.mount,
        path: location.path,
        auth: session.authMethod,
        tls: client.tls,
        version: lastVersion,
      };
    },
  };
}

function notFound(where: string, mount: string, path: string): SecretError {
  return backendError(
    'PGW_SECRET_NOT_FOUND',
    BACKEND,
    `${where} does not exist (or its current version is deleted).`,
    {
      option: 'VAULT_PATH',
      fix: `Check VAULT_PATH and that "${mount}" is a KV v2 mount; create it with vault kv put ${mount}/${path} DB_PASSWORD=…`,
    },
  );
}

function unexpected(error: VaultHttpError, where: string): SecretError {
  return backendError(
    'PGW_SECRET_BACKEND_UNAVAILABLE',
    BACKEND,
    `reading ${where} failed (HTTP ${error.status}${error.errors.length > 0 ? `: ${error.errors.join('; ')}` : ''}).`,
    { option: 'VAULT_PATH', fix: 'Check VAULT_PATH and the Vault server logs.' },
  );
}
