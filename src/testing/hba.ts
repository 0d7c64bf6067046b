import { ConfigError } from '../errors.js';

/**
 * Always the first pg_hba.conf rule: the harness administers the cluster as
 * the superuser over its private unix socket, whatever rules a test installs.
 * The socket directory is mode 0700, so only the server's OS user (and root)
 * can use this rule.
 */
export const ADMIN_HBA_LINE = 'local all postgres trust';

/** Lets the harness take base backups for replicas (replication is not matched by `all`). */
export const ADMIN_REPLICATION_HBA_LINE = 'local replication postgres trust';

/**
 * The rules used when a cluster is started without `hba`: anything over the
 * private socket, passwords (SCRAM) over loopback TCP. Tests that need TLS or
 * certificate rules pass their own.
 */
export const DEFAULT_HBA_LINES: readonly string[] = Object.freeze([
  'local all all trust',
  'host all all 127.0.0.1/32 scram-sha-256',
  'host all all ::1/128 scram-sha-256',
]);

/**
 * The pg_hba.conf text for `lines`, with {@link ADMIN_HBA_LINE} prepended.
 *
 * @throws ConfigError `PGW_CONFIG_INVALID` when an entry spans several lines,
 *   which would hide a rule from the caller's own list.
 */
export function renderHba(lines: readonly string[]): string {
  for (const line of lines) {
    if (/[\r\n\0]/.test(line)) {
      throw new ConfigError('PGW_CONFIG_INVALID', 'Each pg_hba.conf entry must be a single line.', {
        option: 'hba',
        fix: 'Pass one array element per rule.',
      });
    }
  }
  return [
    '# pgwarden test harness: the first rule lets the harness administer the cluster.',
    ADMIN_HBA_LINE,
    ADMIN_REPLICATION_HBA_LINE,
    ...lines,
  ]
    .map((line) => `${line}\n`)
    .join('');
}
