import { Secret } from '../redact/secret.js';
import type { SecretError } from '../errors.js';
import { backendError, isSecretError } from './backend-error.js';
import { readSecretFile, trimTrailingNewlines } from './secret-file.js';
import { VaultHttpError, type VaultClient } from './vault-client.js';

/** Where Kubernetes mounts the pod's service account token. */
export const DEFAULT_K8S_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** How pgwarden authenticates to Vault. */
export type VaultAuthSettings =
  | {
      method: 'token';
      /** `VAULT_TOKEN`. */
      token: Secret;
    }
  | {
      method: 'approle';
      /** `VAULT_ROLE_ID`: an identifier, not a secret, but not shown either. */
      roleId: string;
      /** `VAULT_SECRET_ID`. */
      secretId: Secret;
      /** The auth mount. Default: `approle` (`VAULT_APPROLE_MOUNT`). */
      mount?: string | undefined;
    }
  | {
      method: 'kubernetes';
      /** `VAULT_K8S_ROLE`: the Vault role bound to the pod's service account. */
      role: string;
      /** The service account JWT. Default: {@link DEFAULT_K8S_TOKEN_PATH} (`VAULT_K8S_TOKEN_PATH`). */
      jwtPath?: string | undefined;
      /** The auth mount. Default: `kubernetes` (`VAULT_K8S_MOUNT`). */
      mount?: string | undefined;
    };

/** A Vault token and what Vault said about its lifetime. */
export interface VaultTokenInfo {
  token: Secret;
  /** Seconds left; 0 means no expiry (root or periodic-less tokens). */
  ttlSeconds: number;
  renewable: boolean;
}

interface AuthBlock {
  client_token?: unknown;
  lease_duration?: unknown;
  renewable?: unknown;
}

/**
 * Logs in with AppRole or Kubernetes and returns the new token. Failures are
 * `PGW_SECRET_ACCESS_DENIED` naming the variables to check: Vault answers 400
 * "invalid role or secret ID" or 403 "permission denied" for a bad login.
 */
export async function vaultLogin(
  client: VaultClient,
  auth: Exclude<VaultAuthSettings, { method: 'token' }>,
  backend: string,
  signal?: AbortSignal,
): Promise<VaultTokenInfo> {
  let path: string;
  let body: Record<string, string>;
  let option: string;
  let fix: string;
  if (auth.method === 'approle') {
    path = `auth/${auth.mount ?? 'approle'}/login`;
    body = { role_id: auth.roleId, secret_id: auth.secretId.reveal() };
    option = 'VAULT_SECRET_ID';
    fix =
      'Check VAULT_ROLE_ID and VAULT_SECRET_ID (secret IDs expire and may be limited in uses: issue a new one with vault write -f auth/approle/role/<role>/secret-id).';
  } else {
    const jwtPath = auth.jwtPath ?? DEFAULT_K8S_TOKEN_PATH;
    const file = await readSecretFile(jwtPath, { backend, option: 'VAULT_K8S_TOKEN_PATH' });
    const jwt = new Secret(trimTrailingNewlines(file.text));
    path = `auth/${auth.mount ?? 'kubernetes'}/login`;
    body = { role: auth.role, jwt: jwt.reveal() };
    option = 'VAULT_K8S_ROLE';
    fix = `Check that Vault role "${auth.role}" is bound to this pod's service account and namespace (vault read auth/${auth.mount ?? 'kubernetes'}/role/${auth.role}).`;
  }
  let answer: unknown;
  try {
    answer = await client.request('POST', path, { body, signal });
  } catch (error) {
    throw loginError(error, auth.method, path, option, fix, backend);
  }
  const info = tokenFromAuth((answer as { auth?: AuthBlock } | undefined)?.auth);
  if (!info) {
    throw backendError(
      'PGW_SECRET_BACKEND_UNAVAILABLE',
      backend,
      `the ${auth.method} login answered no token.`,
      {
        option,
        fix: 'Check that the login path belongs to an auth method of that type.',
      },
    );
  }
  return info;
}

/** Reads `{auth: {client_token, lease_duration, renewable}}` as login and renew-self return it. */
export function tokenFromAuth(auth: AuthBlock | undefined, fallback?: Secret): VaultTokenInfo | undefined {
  if (!auth) return undefined;
  const token =
    typeof auth.client_token === 'string' && auth.client_token !== ''
      ? new Secret(auth.client_token)
      : fallback;
  if (!token) return undefined;
  return {
    token,
    ttlSeconds: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0,
    renewable: auth.renewable === true,
  };
}

function loginError(
  error: unknown,
  method: string,
  path: string,
  option: string,
  fix: string,
  backend: string,
): SecretError {
  if (isSecretError(error)) return error;
  if (error instanceof VaultHttpError) {
    if (error.status === 404) {
      return backendError(
        'PGW_SECRET_CONFIG',
        backend,
        `no ${method} auth method is mounted at /v1/${path}.`,
        {
          option: method === 'approle' ? 'VAULT_APPROLE_MOUNT' : 'VAULT_K8S_MOUNT',
          fix: `Enable it (vault auth enable ${method}) or set the mount variable to where it is enabled.`,
        },
      );
    }
    return backendError(
      'PGW_SECRET_ACCESS_DENIED',
      backend,
      `Vault refused the ${method} login (${error.status}${error.errors.length > 0 ? `: ${error.errors.join('; ')}` : ''}).`,
      { option, fix },
    );
  }
  return backendError('PGW_SECRET_BACKEND_UNAVAILABLE', backend, `the ${method} login failed.`, {
    option,
    fix: 'See the cause; retry later.',
    cause: error,
  });
}
