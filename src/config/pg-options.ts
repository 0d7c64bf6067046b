/**
 * node-postgres' own Pool and Client options, accepted so that
 * `new pg.Pool(options)` becomes `createPool(options)` without rewriting them.
 * Each is translated onto pgwarden's option (with its origin, so errors say
 * `options.connectionTimeoutMillis`) and then judged like any other source:
 * `ssl: { rejectUnauthorized: false }` is sslmode `require`, refused in
 * production like `DB_SSL_REJECT_UNAUTHORIZED=false`.
 */
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';
import { emptyLayer, setValue, type ConfigLayer } from './layer.js';

/** The pg options pgwarden translates; see docs/config.md for the table. */
export interface PgCompatibleOptions {
  /** pg's name for `url`. */
  connectionString?: string | undefined;
  /**
   * pg's TLS switch: `true` is verify-full against Node's CA store, `false`
   * is no TLS, an object's `ca`/`cert`/`key`/`passphrase`/`servername`/
   * `minVersion` become the matching options, and `rejectUnauthorized: false`
   * is sslmode `require` (refused in production).
   */
  ssl?: boolean | ConnectionOptions | undefined;
  /** pg's name for `idleTimeoutMs`. */
  idleTimeoutMillis?: number | null | undefined;
  /** pg's name for `connectionTimeoutMs`; as in pg-pool it also bounds the wait for a free connection. */
  connectionTimeoutMillis?: number | undefined;
  /** pg's name for `statementTimeoutMs`; `false` means none. */
  statement_timeout?: number | false | undefined;
  /** pg's name for `lockTimeoutMs`. */
  lock_timeout?: number | undefined;
  /** pg's name for `idleInTransactionSessionTimeoutMs`. */
  idle_in_transaction_session_timeout?: number | undefined;
  /** pg's name for `queryTimeoutMs`. */
  query_timeout?: number | undefined;
  /** pg's name for `applicationName`. */
  application_name?: string | undefined;
  /** Used as `applicationName` when none is set. */
  fallback_application_name?: string | undefined;
  /** pg-pool's name for `maxLifetimeMs`, in seconds. */
  maxLifetimeSeconds?: number | undefined;
  /** `false` is channelBinding `disable`. */
  enableChannelBinding?: boolean | undefined;
  /** pg's name for `sslNegotiation`. */
  sslnegotiation?: 'postgres' | 'direct' | undefined;
}

/** pg options handed to node-postgres unchanged: they do not touch security. */
export const PG_PASSTHROUGH_KEYS = [
  'types',
  'maxUses',
  'allowExitOnIdle',
  'log',
  'Promise',
  'onConnect',
  'verify',
  'keepAlive',
  'keepAliveInitialDelayMillis',
  'client_encoding',
  'binary',
  'options',
] as const;

/** pg options that would bypass what pgwarden guarantees: refused with a fix. */
const REFUSED: Record<string, string> = {
  Client:
    'pgwarden supplies its own Client (it verifies TLS and resolves credentials per connection); drop the option.',
  stream: 'A custom stream bypasses the TLS policy; connect by host and port (or a unix socket directory).',
};

/** Keys of `ssl: {...}` that map onto pgwarden options. */
const SSL_KEYS = new Set([
  'ca',
  'cert',
  'key',
  'passphrase',
  'servername',
  'minVersion',
  'rejectUnauthorized',
]);

export const PG_OPTION_KEYS: ReadonlySet<string> = new Set([
  'connectionString',
  'ssl',
  'idleTimeoutMillis',
  'connectionTimeoutMillis',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
  'application_name',
  'fallback_application_name',
  'maxLifetimeSeconds',
  'enableChannelBinding',
  'sslnegotiation',
  ...Object.keys(REFUSED),
]);

function pem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const parts = Array.isArray(value) ? value : [value];
  return parts.map((part) => (Buffer.isBuffer(part) ? part.toString('utf8') : String(part))).join('\n');
}

/**
 * The config layer of pg-named options, placed just below pgwarden's own
 * options. Throws a ConfigError for options that would bypass the policy and
 * for a pgwarden option set twice under both names.
 */
export function pgOptionsLayer(options: Record<string, unknown>): ConfigLayer {
  const layer = emptyLayer('options');
  const set = (key: Parameters<typeof setValue>[1], value: unknown, pgName: string) => {
    if (options[key] !== undefined && value !== undefined) {
      throw new ConfigError(
        'PGW_CONFIG_CONFLICT',
        `options.${pgName} and options.${key} set the same thing.`,
        { option: `options.${pgName}`, fix: `Keep one of them (${key} is pgwarden's name).` },
      );
    }
    setValue(layer, key, value, `options.${pgName}`);
  };
  for (const [name, fix] of Object.entries(REFUSED)) {
    if (options[name] !== undefined) {
      throw new ConfigError('PGW_CONFIG_CONFLICT', `options.${name} is not supported.`, {
        option: `options.${name}`,
        fix,
      });
    }
  }
  if (options.connectionString !== undefined && options.url !== undefined) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      'options.connectionString and options.url both give a URL.',
      {
        option: 'options.connectionString',
        fix: 'Keep one of them.',
      },
    );
  }
  const number = (value: unknown) => (value === null ? undefined : value);
  set('idleTimeoutMs', number(options.idleTimeoutMillis), 'idleTimeoutMillis');
  set('connectionTimeoutMs', options.connectionTimeoutMillis, 'connectionTimeoutMillis');
  set(
    'statementTimeoutMs',
    options.statement_timeout === false ? undefined : options.statement_timeout,
    'statement_timeout',
  );
  set('lockTimeoutMs', options.lock_timeout, 'lock_timeout');
  set(
    'idleInTransactionSessionTimeoutMs',
    options.idle_in_transaction_session_timeout,
    'idle_in_transaction_session_timeout',
  );
  set('queryTimeoutMs', options.query_timeout, 'query_timeout');
  set('applicationName', options.application_name ?? options.fallback_application_name, 'application_name');
  if (typeof options.maxLifetimeSeconds === 'number') {
    set('maxLifetimeMs', options.maxLifetimeSeconds * 1000, 'maxLifetimeSeconds');
  }
  if (options.enableChannelBinding === false) set('channelBinding', 'disable', 'enableChannelBinding');
  set('sslNegotiation', options.sslnegotiation, 'sslnegotiation');
  translateSsl(options.ssl, layer, set);
  return layer;
}

function translateSsl(
  ssl: unknown,
  layer: ConfigLayer,
  set: (key: Parameters<typeof setValue>[1], value: unknown, pgName: string) => void,
): void {
  if (ssl === undefined) return;
  if (ssl === false) return set('sslMode', 'disable', 'ssl');
  if (ssl === true) {
    set('sslMode', 'verify-full', 'ssl');
    return set('sslRootCert', 'system', 'ssl');
  }
  if (typeof ssl !== 'object' || ssl === null) {
    throw new ConfigError('PGW_CONFIG_INVALID', 'options.ssl must be true, false or a TLS options object.', {
      option: 'options.ssl',
      fix: 'Use ssl: true, or sslMode: "verify-full" with sslRootCert.',
    });
  }
  const tls = ssl as ConnectionOptions & Record<string, unknown>;
  const verify = tls.rejectUnauthorized !== false;
  if (tls.checkServerIdentity !== undefined) {
    throw new ConfigError('PGW_CONFIG_CONFLICT', 'options.ssl.checkServerIdentity is not supported.', {
      option: 'options.ssl.checkServerIdentity',
      fix: 'Use sslServerName to verify another name, or sslMode "verify-ca" to check the chain only.',
    });
  }
  const ca = pem(tls.ca);
  set('sslMode', verify ? 'verify-full' : 'require', 'ssl.rejectUnauthorized');
  set('sslRootCert', ca ?? (verify ? 'system' : undefined), 'ssl.ca');
  set('sslCert', pem(tls.cert), 'ssl.cert');
  set('sslKey', pem(tls.key), 'ssl.key');
  set('sslKeyPassphrase', tls.passphrase, 'ssl.passphrase');
  set('sslServerName', tls.servername, 'ssl.servername');
  set('sslMinVersion', tls.minVersion, 'ssl.minVersion');
  for (const key of Object.keys(tls)) {
    if (SSL_KEYS.has(key) || tls[key] === undefined) continue;
    layer.warnings.push({
      code: 'PGW_CONFIG_UNKNOWN_KEY',
      option: `options.ssl.${key}`,
      message: `options.ssl.${key} is ignored: pgwarden builds the TLS options from sslMode and the certificate options.`,
    });
  }
}
