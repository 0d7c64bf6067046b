/**
 * The one configuration schema. Every source (options, DATABASE_URL, DB_*,
 * PG*) is turned into this flat shape and validated here, so a bad value gets
 * the same check and the same coded error wherever it came from.
 *
 * The options are declared as an interface, so their JSDoc reaches the
 * published types; the zod schema that checks them is built on first use
 * (zod is most of what importing the core would otherwise cost), and a
 * compile-time check keeps the two in step.
 */
import type { z } from 'zod';
import { Secret } from '../redact/secret.js';
import { ENVIRONMENTS, type Environment } from './environment.js';
import { loadZod } from './zod.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export const CHANNEL_BINDING_MODES = ['disable', 'prefer', 'require'] as const;
export const POLICY_PROFILES = ['standard', 'strict'] as const;
export const TARGET_SESSION_ATTRS = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];
export type PolicyProfile = (typeof POLICY_PROFILES)[number];

/** Connection poolers pgwarden knows how to be correct behind. */
export const POOLERS = ['none', 'pgbouncer', 'rds-proxy', 'pgcat'] as const;
export type Pooler = (typeof POOLERS)[number];

/** A value environment variables give as text and options as a number. */
type Numeric = number | string;

/**
 * Public options of `createPool()` and `resolveConfig()`. Each also has an
 * environment variable (see docs/config.md); an option always wins.
 */
export interface ConfigOptions {
  /** A `postgres://` URL, like DATABASE_URL. Fields set as options still win over it. */
  url?: string | undefined;
  /**
   * Server host name, IP address or unix-socket directory; several,
   * comma-separated, are tried in order as libpq does (`db1,db2`). Default `localhost`.
   */
  host?: string | undefined;
  /** Server port; a comma-separated list pairs with a host list. Default 5432. */
  port?: Numeric | undefined;
  /** Which server of a host list to use: `read-write` finds the primary after a failover. Default `any`. */
  targetSessionAttrs?: TargetSessionAttrs | undefined;
  /** Read replicas for `pool.read`: `host[:port]` entries, comma-separated or as an array. */
  readReplicas?: string | string[] | undefined;
  /** Port of replicas listed without one. Default: the primary's. */
  readReplicaPort?: Numeric | undefined;
  /** A replica lagging more than this is skipped for reads. Default 10 000 ms. */
  replicaMaxLagMs?: Numeric | undefined;
  /** How often replicas are health-checked. Default 5 000 ms. */
  replicaCheckIntervalMs?: Numeric | undefined;
  /** How long to look for a writable host after the primary fails. Default 30 000 ms. */
  failoverTimeoutMs?: Numeric | undefined;
  /** Database name. Default: the user name, as libpq does. */
  database?: string | undefined;
  /** Login role. Default: the OS user name, as libpq does. */
  user?: string | undefined;
  /** Password; prefer a secrets backend in production. Held as a {@link Secret}. */
  password?: string | Secret | undefined;
  /**
   * libpq sslmode. Default `verify-full` in production and staging, `prefer`
   * elsewhere. `require` with a root certificate behaves as `verify-ca`, as in libpq.
   */
  sslMode?: SslMode | undefined;
  /** CA bundle: a file path, inline PEM, or `system` for the platform's CA store. */
  sslRootCert?: string | undefined;
  /** Client certificate for mutual TLS: a file path or inline PEM. */
  sslCert?: string | undefined;
  /** Client private key: a file path (mode 0600, as libpq demands) or inline PEM. */
  sslKey?: string | Secret | undefined;
  /** Passphrase of an encrypted client key. */
  sslKeyPassphrase?: string | Secret | undefined;
  /** Lowest TLS version accepted. Default `TLSv1.2`. */
  sslMinVersion?: TlsVersion | undefined;
  /** Name to verify in the server certificate instead of `host` (e.g. when connecting by IP). */
  sslServerName?: string | undefined;
  /** `postgres` (SSLRequest first, the default) or `direct` (TLS at once, PostgreSQL 17+). */
  sslNegotiation?: 'postgres' | 'direct' | undefined;
  /** SCRAM channel binding: `require` refuses a session that did not use SCRAM-SHA-256-PLUS. Default `prefer`. */
  channelBinding?: (typeof CHANNEL_BINDING_MODES)[number] | undefined;
  /** application_name sent at startup. Default `pgwarden`. */
  applicationName?: string | undefined;
  /** Connections kept open when idle. Default 0. */
  min?: Numeric | undefined;
  /** Most connections open at once. Default 10. */
  max?: Numeric | undefined;
  /** Time allowed to open one physical connection (TCP, TLS, auth). Default 10 000 ms. */
  connectionTimeoutMs?: Numeric | undefined;
  /**
   * Time a caller waits for a free connection before PGW_POOL_EXHAUSTED.
   * Default: `connectionTimeoutMs` when that is set (as pg-pool's
   * `connectionTimeoutMillis` bounds both), else 10 000 ms.
   */
  acquireTimeoutMs?: Numeric | undefined;
  /** Idle connections above `min` are closed after this. Default 30 000 ms. */
  idleTimeoutMs?: Numeric | undefined;
  /** Connections are retired after this age, so rotated credentials and failovers are picked up. Default 1 800 000 ms; 0 turns it off. */
  maxLifetimeMs?: Numeric | undefined;
  /** A connection idle longer than this is validated (a round trip) before it is handed out. Default 10 000 ms; 0 validates every checkout. */
  prePingIdleMs?: Numeric | undefined;
  /**
   * Client-side limit on one query, for when the network itself is cut (the
   * server's statement_timeout cannot fire then). The connection is discarded
   * after it fires. Default: none.
   */
  queryTimeoutMs?: Numeric | undefined;
  /** Share of `max` in use at which the pool logs and emits `pool-usage-high`. Default 0.9. */
  poolUsageAlertRatio?: Numeric | undefined;
  /**
   * statement_timeout. Sent as a startup parameter; behind a pooler
   * (`pooler`) verified against the role's setting instead. Default: the server's.
   */
  statementTimeoutMs?: Numeric | undefined;
  /** idle_in_transaction_session_timeout, as `statementTimeoutMs`. Default: the server's. */
  idleInTransactionSessionTimeoutMs?: Numeric | undefined;
  /** lock_timeout, as `statementTimeoutMs`. Default: the server's. */
  lockTimeoutMs?: Numeric | undefined;
  /**
   * A connection pooler between the application and PostgreSQL: `pgbouncer`
   * (transaction or session mode), `rds-proxy` or `pgcat`. Then no session
   * startup parameter is sent (a pooler refuses or drops them); each
   * configured timeout is read back with `current_setting()` after
   * connecting and a difference refuses startup in production (warns
   * elsewhere); transactions also `SET LOCAL` their timeouts; named prepared
   * statements are refused. Default `none`.
   */
  pooler?: Pooler | undefined;
  /** Deployment environment. Default from APP_ENV, NODE_ENV or ENVIRONMENT, else `development`. */
  environment?: Environment | undefined;
  /** `standard` accepts platform-managed environment variables for the password; `strict` demands a secrets backend. Default `standard`. */
  policy?: PolicyProfile | undefined;
}

function buildOptionsSchema(zod: typeof z) {
  const milliseconds = zod.coerce.number().int().min(0).max(2_147_483_647);
  const secretString = zod.union([zod.string(), zod.instanceof(Secret)]);
  return zod.object({
    url: zod.string().optional(),
    host: zod.string().min(1).optional(),
    port: zod
      .union([zod.coerce.number().int().min(1).max(65535), zod.string().regex(/^\d+(,\d*)*$/)])
      .optional(),
    targetSessionAttrs: zod.enum(TARGET_SESSION_ATTRS).optional(),
    readReplicas: zod.union([zod.string(), zod.array(zod.string())]).optional(),
    readReplicaPort: zod.coerce.number().int().min(1).max(65535).optional(),
    replicaMaxLagMs: milliseconds.optional(),
    replicaCheckIntervalMs: milliseconds.optional(),
    failoverTimeoutMs: milliseconds.optional(),
    database: zod.string().min(1).optional(),
    user: zod.string().min(1).optional(),
    password: secretString.optional(),
    sslMode: zod.enum(SSL_MODES).optional(),
    sslRootCert: zod.string().min(1).optional(),
    sslCert: zod.string().min(1).optional(),
    sslKey: secretString.optional(),
    sslKeyPassphrase: secretString.optional(),
    sslMinVersion: zod.enum(TLS_VERSIONS).optional(),
    sslServerName: zod.string().min(1).optional(),
    sslNegotiation: zod.enum(['postgres', 'direct']).optional(),
    channelBinding: zod.enum(CHANNEL_BINDING_MODES).optional(),
    applicationName: zod.string().max(63).optional(),
    min: zod.coerce.number().int().min(0).max(10_000).optional(),
    max: zod.coerce.number().int().min(1).max(10_000).optional(),
    connectionTimeoutMs: milliseconds.optional(),
    acquireTimeoutMs: milliseconds.optional(),
    idleTimeoutMs: milliseconds.optional(),
    maxLifetimeMs: milliseconds.optional(),
    prePingIdleMs: milliseconds.optional(),
    queryTimeoutMs: milliseconds.optional(),
    poolUsageAlertRatio: zod.coerce.number().gt(0).max(1).optional(),
    statementTimeoutMs: milliseconds.optional(),
    idleInTransactionSessionTimeoutMs: milliseconds.optional(),
    lockTimeoutMs: milliseconds.optional(),
    pooler: zod.enum(POOLERS).optional(),
    environment: zod.enum(ENVIRONMENTS).optional(),
    policy: zod.enum(POLICY_PROFILES).optional(),
  });
}

type OptionsSchema = ReturnType<typeof buildOptionsSchema>;
let schema: OptionsSchema | undefined;

/** The zod schema of the options, built once on first use. */
export function optionsSchema(): OptionsSchema {
  return (schema ??= buildOptionsSchema(loadZod()));
}

export type ParsedOptions = z.output<OptionsSchema>;
export type OptionKey = keyof ParsedOptions & keyof ConfigOptions;

/** Every option key, in schema order (listed here so reading it needs no zod). */
export const OPTION_KEYS = [
  'url',
  'host',
  'port',
  'targetSessionAttrs',
  'readReplicas',
  'readReplicaPort',
  'replicaMaxLagMs',
  'replicaCheckIntervalMs',
  'failoverTimeoutMs',
  'database',
  'user',
  'password',
  'sslMode',
  'sslRootCert',
  'sslCert',
  'sslKey',
  'sslKeyPassphrase',
  'sslMinVersion',
  'sslServerName',
  'sslNegotiation',
  'channelBinding',
  'applicationName',
  'min',
  'max',
  'connectionTimeoutMs',
  'acquireTimeoutMs',
  'idleTimeoutMs',
  'maxLifetimeMs',
  'prePingIdleMs',
  'queryTimeoutMs',
  'poolUsageAlertRatio',
  'statementTimeoutMs',
  'idleInTransactionSessionTimeoutMs',
  'lockTimeoutMs',
  'pooler',
  'environment',
  'policy',
] as const satisfies readonly OptionKey[];

// Compile-time: the interface, the key list and the schema describe the same options.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const keysMatchSchema: Same<(typeof OPTION_KEYS)[number], keyof ParsedOptions> = true;
const keysMatchInterface: Same<(typeof OPTION_KEYS)[number], keyof ConfigOptions> = true;
const interfaceParses: ConfigOptions extends Partial<z.input<OptionsSchema>> ? true : false = true;
void [keysMatchSchema, keysMatchInterface, interfaceParses];

/** A CA, certificate or key, loaded when the config is resolved. */
export type PemSource =
  | { readonly origin: 'file'; readonly path: string; readonly pem: string }
  | { readonly origin: 'inline'; readonly pem: string }
  | { readonly origin: 'system' };

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ResolvedTls {
  /** The sslmode as configured. */
  readonly mode: SslMode;
  /** What libpq would actually do: `require` with a root certificate becomes `verify-ca`. */
  readonly effectiveMode: SslMode;
  readonly rootCert: PemSource | undefined;
  readonly cert: PemSource | undefined;
  /** The client key PEM, secret. */
  readonly key: Secret | undefined;
  readonly keyPath: string | undefined;
  readonly keyPassphrase: Secret | undefined;
  readonly minVersion: TlsVersion;
  readonly serverName: string | undefined;
  readonly negotiation: 'postgres' | 'direct';
  readonly channelBinding: 'disable' | 'prefer' | 'require';
}

/** The frozen result of {@link resolveConfig}. */
export interface ResolvedConfig {
  readonly environment: (typeof ENVIRONMENTS)[number];
  readonly policy: PolicyProfile;
  /** The first of {@link hosts}. */
  readonly host: string;
  readonly port: number;
  /** Every host to try, in order (libpq multi-host). */
  readonly hosts: readonly HostPort[];
  readonly targetSessionAttrs: TargetSessionAttrs;
  readonly replicas: {
    readonly hosts: readonly HostPort[];
    readonly maxLagMs: number;
    readonly checkIntervalMs: number;
  };
  readonly failoverTimeoutMs: number;
  readonly database: string;
  readonly user: string;
  readonly password: Secret | undefined;
  readonly applicationName: string;
  readonly tls: ResolvedTls;
  readonly pool: {
    readonly min: number;
    readonly max: number;
    readonly connectionTimeoutMs: number;
    readonly acquireTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maxLifetimeMs: number;
    readonly prePingIdleMs: number;
    readonly queryTimeoutMs: number | undefined;
    readonly usageAlertRatio: number;
  };
  readonly pooler: Pooler;
  readonly session: {
    readonly statementTimeoutMs: number | undefined;
    readonly idleInTransactionSessionTimeoutMs: number | undefined;
    readonly lockTimeoutMs: number | undefined;
  };
  /**
   * Where each value came from: `options`, `DATABASE_URL`, `DB_HOST`, `PGHOST`, `default`…
   * `storePassphrase`: the variable holding the passphrase of the encrypted store the
   * password came from, when it is the plaintext `PGWARDEN_STORE_PASSPHRASE`.
   */
  readonly sources: Readonly<Partial<Record<OptionKey | 'environment' | 'storePassphrase', string>>>;
}
