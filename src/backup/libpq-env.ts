/**
 * Hands a resolved connection config to pg_dump / pg_restore the way libpq
 * reads it: environment variables for the connection, the password in a
 * 0600 passfile (PGPASSFILE), inline PEM and decrypted keys in 0600 files,
 * all of them unlinked before the child starts where the platform allows
 * (secret-files.ts). Nothing secret goes into argv (visible in `ps`) and
 * PGPASSWORD is never set (visible in /proc/<pid>/environ to the same user
 * and inherited by every child).
 */
import { createPrivateKey } from 'node:crypto';
import type { PemSource, ResolvedConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { ConnectionTarget } from './connected-target.js';
import { SecretFiles, type SecretFileMode } from './secret-files.js';

export interface LibpqSession {
  /**
   * The libpq variables to set for the child. Nothing else of the caller's
   * environment belongs here: spawnChild adds only the allow-listed PATH,
   * HOME, locale…, so a stray PGPASSWORD or PGSERVICE never overrides what was
   * resolved, and no other secret reaches the tool.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The child's stdio: `base` (stdin, stdout, stderr), then the descriptors
   * that `/dev/fd/N` in `env` names. Pass it to the spawn of the tool.
   */
  stdio<T>(base: readonly [T, T, T]): (T | number)[];
  /** Closes the descriptors, removes any temporary file. Idempotent. */
  dispose(): void;
}

export interface LibpqEnvironmentOptions {
  /**
   * The host, port, user and password a pool connection actually used
   * (connected-target.ts). Default: the config's first host and its user and
   * password, which are wrong after a failover or a credential fallback.
   */
  target?: ConnectionTarget;
  /** How the passfile and PEM files reach the child; default `descriptors` on Linux, else `files` (secret-files.ts). */
  secretFiles?: SecretFileMode;
  /** Where the private directory is made. Default the OS temp directory. */
  tmpDir?: string;
}

/** One passfile line matching any host, port, database and user (the file serves one child). */
export function passfileLine(password: string): string {
  if (/[\r\n]/.test(password)) {
    throw new ConfigError(
      'PGW_CONFIG_INVALID',
      'The password contains a line break, which a libpq passfile cannot hold.',
      {
        option: 'password',
        fix: 'Use a password without line breaks for this role.',
      },
    );
  }
  return `*:*:*:*:${password.replace(/\\/g, '\\\\').replace(/:/g, '\\:')}\n`;
}

export function libpqEnvironment(
  config: ResolvedConfig,
  options: LibpqEnvironmentOptions = {},
): LibpqSession {
  if (config.tls.serverName) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      'sslServerName has no libpq equivalent, so pg_dump and pg_restore cannot verify the server under that name.',
      {
        option: config.sources.sslServerName ?? 'sslServerName',
        fix: 'Connect by the host name in the server certificate instead.',
      },
    );
  }
  const env: Record<string, string> = {};
  const files = new SecretFiles({
    ...(options.secretFiles ? { mode: options.secretFiles } : {}),
    ...(options.tmpDir ? { tmpDir: options.tmpDir } : {}),
  });
  const file = (name: string, content: string): string => files.add(name, content);
  const pemPath = (source: PemSource | undefined, name: string): string | undefined => {
    if (!source) return undefined;
    if (source.origin === 'system') return 'system';
    return source.origin === 'file' ? source.path : file(name, source.pem);
  };
  try {
    const { tls } = config;
    Object.assign(env, {
      PGHOST: options.target?.host ?? config.host,
      PGPORT: String(options.target?.port ?? config.port),
      PGUSER: options.target?.user ?? config.user,
      PGDATABASE: config.database,
      PGAPPNAME: config.sources.applicationName ? config.applicationName : 'pgwarden-backup',
      PGSSLMODE: tls.mode,
      PGSSLMINPROTOCOLVERSION: tls.minVersion,
      PGCHANNELBINDING: tls.channelBinding,
      // libpq rounds 1 up to 2; 0 would mean "wait forever".
      PGCONNECT_TIMEOUT: String(Math.max(2, Math.ceil(config.pool.connectionTimeoutMs / 1000))),
    });
    if (tls.negotiation === 'direct') env.PGSSLNEGOTIATION = 'direct';
    const root = pemPath(tls.rootCert, 'root.crt');
    if (root) env.PGSSLROOTCERT = root;
    const cert = pemPath(tls.cert, 'client.crt');
    if (cert) env.PGSSLCERT = cert;
    if (tls.key) {
      // libpq's sslpassword has no variable: hand over a decrypted copy in a 0600 file instead.
      env.PGSSLKEY =
        tls.keyPath && !tls.keyPassphrase
          ? tls.keyPath
          : file(
              'client.key',
              createPrivateKey({
                key: tls.key.reveal(),
                format: 'pem',
                passphrase: tls.keyPassphrase?.reveal(),
              })
                .export({ type: 'pkcs8', format: 'pem' })
                .toString(),
            );
    }
    // Without a password an empty passfile, so a ~/.pgpass cannot interfere (/dev/null draws
    // libpq's "not a plain file" warning).
    const password = options.target ? options.target.password() : config.password?.reveal();
    env.PGPASSFILE = file('pgpass', password ? passfileLine(password) : '');
    files.seal();
  } catch (error) {
    files.dispose();
    throw error;
  }
  return {
    env,
    stdio: (base) => files.stdio(base),
    dispose: () => files.dispose(),
  };
}
