/**
 * Hands a resolved connection config to pg_dump / pg_restore the way libpq
 * reads it: environment variables for the connection, the password in a
 * 0600 passfile (PGPASSFILE) removed afterwards, inline PEM written to 0600
 * temporary files. Nothing secret goes into argv (visible in `ps`) and
 * PGPASSWORD is never set (visible in /proc/<pid>/environ to the same user
 * and inherited by every child).
 */
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PemSource, ResolvedConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';

export interface LibpqSession {
  /**
   * The libpq variables to set for the child. Nothing else of the caller's
   * environment belongs here: spawnChild adds only the allow-listed PATH,
   * HOME, locale…, so a stray PGPASSWORD or PGSERVICE never overrides what was
   * resolved, and no other secret reaches the tool.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Removes the passfile and temporary PEM files. Idempotent. */
  dispose(): void;
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

export function libpqEnvironment(config: ResolvedConfig): LibpqSession {
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
  let dir: string | undefined;
  const file = (name: string, content: string): string => {
    dir ??= mkdtempSync(join(tmpdir(), 'pgwarden-libpq-'));
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
    return path;
  };
  const pemPath = (source: PemSource | undefined, name: string): string | undefined => {
    if (!source) return undefined;
    if (source.origin === 'system') return 'system';
    return source.origin === 'file' ? source.path : file(name, source.pem);
  };
  try {
    const { tls } = config;
    Object.assign(env, {
      PGHOST: config.host,
      PGPORT: String(config.port),
      PGUSER: config.user,
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
    if (config.password) env.PGPASSFILE = file('pgpass', passfileLine(config.password.reveal()));
    else env.PGPASSFILE = '/dev/null';
  } catch (error) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    env,
    dispose: () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}
