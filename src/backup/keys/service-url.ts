/**
 * The secure-endpoint rule (src/net/secure-endpoint.ts) with the backup's
 * code: a key service whose address is malformed or plain http off loopback
 * is `PGW_BACKUP_KEY_INVALID`, since a data key would travel in the clear.
 */
import { requireSecureEndpoint } from '../../net/secure-endpoint.js';
import { BackupError } from '../backup-error.js';

export function checkServiceUrl(raw: string, option: string, service: string): URL {
  return requireSecureEndpoint(
    raw,
    { option, service },
    (problem) => new BackupError('PGW_BACKUP_KEY_INVALID', problem.message, { option, fix: problem.fix }),
  );
}
