/**
 * The one configuration schema. Every source (options, DATABASE_URL, DB_*,
 * PG*) is turned into this flat shape and validated here, so a bad value gets
 * the same check and the same coded error wherever it came from.
 */
import { z } from 'zod';
import { Secret } from '../redact/secret.js';
import { ENVIRONMENTS } from './environment.js';

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

const milliseconds = z.coerce.number().int().min(0).max(2_147_483_647);
const secretString = z.union([z.string(), z.instanceof(Secret)]);

/**
 * Public options of `createPool()` and `resolveConfig()`. Each also has an
 * environment variable (see docs/config.md); an option always wins.
 */
export const optionsSchema = z.object({
  /** A `postgres://` URL, like DATABASE_URL. Fields set as options still win over it. */
  url: z.string().optional(),
  /**
   * Server host name, IP address or unix-socket directory; several,
   * comma-separated, are tried in order as libpq does (`db1,db2`). Default `localhost`.
   */
  host: z.string().min(1).optional(),
  /** Server port; a comma-separated list pairs with a host list. Default 5432. */
  port: z.union([z.coerce.number().int().min(1).max(65535), z.string().regex(/^\d+(,\d*)*$/)]).optional(),
  /** Which server of a host list to use: `read-write` finds the primary after a failover. Default `any`. */
  targetSessionAttrs: z.enum(TARGET_SESSION_ATTRS).optional(),
  /** Read replicas for `pool.read`: `host[:port]` entries, comma-separated or as an array. */
  readReplicas: z.union([z.string(), z.array(z.string())]).optional(),
  /** Port of replicas listed without one. Default: the primary's. */
  readReplicaPort: z.coerce.number().int().min(1).max(65535).optional(),
  /** A replica lagging more than this is skipped for reads. Default 10 000 ms. */
  replicaMaxLagMs: milliseconds.optional(),
  /** How often replicas are health-checked. Default 5 000 ms. */
  replicaCheckIntervalMs: milliseconds.optional(),
  /** How long to look for a writable host after the primary fails. Default 30 000 ms. */
  failoverTimeoutMs: milliseconds.optional(),
  /** Database name. Default: the user name, as libpq does. */
  database: z.string().min(1).optional(),
  /** Login role. Default: the OS user name, as libpq does. */
  user: z.string().min(1).optional(),
  /** Password; prefer a secrets backend in production. Held as a {@link Secret}. */
  password: secretString.optional(),
  /**
   * libpq sslmode. Default `verify-full` in production and staging, `prefer`
   * elsewhere. `require` with a root certificate behaves as `verify-ca`, as in libpq.
   */
  sslMode: z.enum(SSL_MODES).optional(),
  /** CA bundle: a file path, inline PEM, or `system` for the platform's CA store. */
  sslRootCert: z.string().min(1).optional(),
  /** Client certificate for mutual TLS: a file path or inline PEM. */
  sslCert: z.string().min(1).optional(),
  /** Client private key: a file path (mode 0600, as libpq demands) or inline PEM. */
  sslKey: secretString.optional(),
  /** Passphrase of an encrypted client key. */
  sslKeyPassphrase: secretString.optional(),
  /** Lowest TLS version accepted. Default `TLSv1.2`. */
  sslMinVersion: z.enum(TLS_VERSIONS).optional(),
  /** Name to verify in the server certificate instead of `host` (e.g. when connecting by IP). */
  sslServerName: z.string().min(1).optional(),
  /** `postgres` (SSLRequest first, the default) or `direct` (TLS at once, PostgreSQL 17+). */
  sslNegotiation: z.enum(['postgres', 'direct']).optional(),
  /** SCRAM channel binding: `require` refuses a session that did not use SCRAM-SHA-256-PLUS. Default `prefer`. */
  channelBinding: z.enum(CHANNEL_BINDING_MODES).optional(),
  /** application_name sent at startup. Default `pgwarden`. */
  applicationName: z.string().max(63).optional(),
  /** Connections kept open when idle. Default 0. */
  min: z.coerce.number().int().min(0).max(10_000).optional(),
  /** Most connections open at once. Default 10. */
  max: z.coerce.number().int().min(1).max(10_000).optional(),
  /** Time allowed to open one physical connection (TCP, TLS, auth). Default 10 000 ms. */
  connectionTimeoutMs: milliseconds.optional(),
  /** Time a caller waits for a free connection before PGW_POOL_EXHAUSTED. Default 10 000 ms. */
  acquireTimeoutMs: milliseconds.optional(),
  /** Idle connections above `min` are closed after this. Default 30 000 ms. */
  idleTimeoutMs: milliseconds.optional(),
  /** Connections are retired after this age, so rotated credentials and failovers are picked up. Default 1 800 000 ms; 0 turns it off. */
  maxLifetimeMs: milliseconds.optional(),
  /** A connection idle longer than this is validated (a round trip) before it is handed out. Default 10 000 ms; 0 validates every checkout. */
  prePingIdleMs: milliseconds.optional(),
  /**
   * Client-side limit on one query, for when the network itself is cut (the
   * server's statement_timeout cannot fire then). The connection is discarded
   * after it fires. Default: none.
   */
  queryTimeoutMs: milliseconds.optional(),
  /** Share of `max` in use at which the pool logs and emits `pool-usage-high`. Default 0.9. */
  poolUsageAlertRatio: z.coerce.number().gt(0).max(1).optional(),
  /** statement_timeout sent at startup (works behind PgBouncer). Default: the server's. */
  statementTimeoutMs: milliseconds.optional(),
  /** idle_in_transaction_session_timeout sent at startup. Default: the server's. */
  idleInTransactionSessionTimeoutMs: milliseconds.optional(),
  /** lock_timeout sent at startup. Default: the server's. */
  lockTimeoutMs: milliseconds.optional(),
  /** Deployment environment. Default from APP_ENV, NODE_ENV or ENVIRONMENT, else `development`. */
  environment: z.enum(ENVIRONMENTS).optional(),
  /** `standard` accepts platform-managed environment variables for the password; `strict` demands a secrets backend. Default `standard`. */
  policy: z.enum(POLICY_PROFILES).optional(),
});

export type ConfigOptions = z.input<typeof optionsSchema>;
export type ParsedOptions = z.output<typeof optionsSchema>;
export type OptionKey = keyof ParsedOptions;
export const OPTION_KEYS = Object.keys(optionsSchema.shape) as OptionKey[];

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
  readonly session: {
    readonly statementTimeoutMs: number | undefined;
    readonly idleInTransactionSessionTimeoutMs: number | undefined;
    readonly lockTimeoutMs: number | undefined;
  };
  /** Where each value came from: `options`, `DATABASE_URL`, `DB_HOST`, `PGHOST`, `default`… */
  readonly sources: Readonly<Partial<Record<OptionKey | 'environment', string>>>;
}
