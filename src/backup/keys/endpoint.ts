import { BackupError } from '../backup-error.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * A key-service endpoint must be https, except on loopback (local test
 * servers, agents): a data key in plaintext HTTP would travel in the clear.
 */
export function checkServiceUrl(raw: string, option: string, service: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BackupError('PGW_BACKUP_KEY_INVALID', `${option} is not a URL.`, {
      option,
      fix: `Set ${option} to the https:// address of ${service}.`,
    });
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return url;
  throw new BackupError(
    'PGW_BACKUP_KEY_INVALID',
    `${option} must use https (plain http is accepted on loopback only), got ${url.protocol}//${url.host}.`,
    { option, fix: `Use the https:// address of ${service}.` },
  );
}
