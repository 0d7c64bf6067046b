import { backendError } from './backend-error.js';

/** A KV v2 secret: the engine's mount and the secret's path inside it. */
export interface KvLocation {
  mount: string;
  path: string;
}

/**
 * Splits `VAULT_PATH` as the Vault CLI reads `vault kv get secret/takumi/production`:
 * the first segment is the mount (`secret`), the rest the path
 * (`takumi/production`). For a mount whose name has a slash, give the mount
 * separately (`VAULT_KV_MOUNT`) and `VAULT_PATH` is then the path inside it.
 */
export function parseKvPath(vaultPath: string, backend: string, mount?: string): KvLocation {
  const segments = vaultPath.split('/').filter((s) => s !== '');
  const mountSegments = mount === undefined ? [] : mount.split('/').filter((s) => s !== '');
  const invalid = [...segments, ...mountSegments].find((s) => s === '.' || s === '..');
  if (invalid !== undefined || segments.length === 0) {
    throw backendError('PGW_SECRET_CONFIG', backend, 'VAULT_PATH is not a secret path.', {
      option: 'VAULT_PATH',
      fix: 'Set VAULT_PATH to <mount>/<path>, e.g. secret/takumi/production.',
    });
  }
  if (mountSegments.length > 0) return { mount: mountSegments.join('/'), path: segments.join('/') };
  if (segments.length < 2) {
    throw backendError('PGW_SECRET_CONFIG', backend, 'VAULT_PATH names a mount but no secret in it.', {
      option: 'VAULT_PATH',
      fix: 'Set VAULT_PATH to <mount>/<path>, e.g. secret/takumi/production.',
    });
  }
  return { mount: segments[0] as string, path: segments.slice(1).join('/') };
}

/** The KV v2 API path of a secret: `<mount>/data/<path>`, each segment URL-encoded. */
export function kvDataPath(location: KvLocation): string {
  return `${encodeSegments(location.mount)}/data/${encodeSegments(location.path)}`;
}

export function encodeSegments(path: string): string {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}
