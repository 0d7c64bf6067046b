/**
 * Resolves the connection config from every source into one frozen object.
 * Precedence, highest first: explicit options > options.url > DATABASE_URL >
 * DB_* > PG* > defaults.
 */
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { Secret } from '../redact/secret.js';
import type { Credentials } from './credentials.js';
import {
  ENVIRONMENT_VARIABLES,
  normalizeEnvironment,
  isProductionLike,
  type Environment,
} from './environment.js';
import { readEnvLayers, type Env } from './env-source.js';
import { emptyLayer, setValue, type ConfigLayer, type ConfigWarning } from './layer.js';
import { loadCertificate, loadPrivateKey } from './pem.js';
import {
  OPTION_KEYS,
  optionsSchema,
  type ConfigOptions,
  type OptionKey,
  type ParsedOptions,
  type PemSource,
  type ResolvedConfig,
  type ResolvedTls,
  type SslMode,
} from './schema.js';
import { closestName } from './suggest.js';
import { parseDatabaseUrl } from './url.js';
import { parseHostList, parseReplicaList } from './hosts.js';
import { PG_OPTION_KEYS, PG_PASSTHROUGH_KEYS, pgOptionsLayer } from './pg-options.js';
import { lookupPgpass } from './pgpass.js';
import { storePassphraseVariable } from './store-passphrase-variable.js';

/** Inputs of resolveConfig that are not configuration values. */
export interface ResolveInputs {
  /** The environment to read instead of `process.env` (tests, multi-tenant apps). */
  env?: Env;
  /**
   * Credentials fetched from a secrets backend. The backend is authoritative
   * for user and password (they win over every other source); host, port,
   * database, sslmode and sslrootcert from the secret (the RDS format and the
   * keychain store carry them) only fill what no other source set.
   */
  secretCredentials?: { backend: string; credentials: Credentials };
}

export interface Resolution {
  readonly config: ResolvedConfig;
  readonly warnings: readonly ConfigWarning[];
}

/** Option keys that are not configuration values but are accepted by createPool. */
const NON_CONFIG_KEYS = new Set<string>([
  'env',
  'logger',
  'secrets',
  'secretsCache',
  'secretCredentials',
  'checkRole',
  'enforcePolicy',
  'purpose',
  ...PG_PASSTHROUGH_KEYS,
  ...PG_OPTION_KEYS,
]);

const SECRET_KEYS = new Set<OptionKey>(['password', 'sslKey', 'sslKeyPassphrase']);

const DEFAULTS = {
  host: 'localhost',
  port: 5432,
  applicationName: 'pgwarden',
  min: 0,
  max: 10,
  connectionTimeoutMs: 10_000,
  acquireTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  maxLifetimeMs: 1_800_000,
  prePingIdleMs: 10_000,
  sslMinVersion: 'TLSv1.2',
  policy: 'standard',
  replicaMaxLagMs: 10_000,
  replicaCheckIntervalMs: 5_000,
  failoverTimeoutMs: 30_000,
} as const;

function optionsLayer(options: Record<string, unknown>): ConfigLayer {
  const layer = emptyLayer('options');
  for (const [key, value] of Object.entries(options)) {
    if (NON_CONFIG_KEYS.has(key) || key === 'url') continue;
    if ((OPTION_KEYS as readonly string[]).includes(key)) {
      setValue(layer, key as OptionKey, value, `options.${key}`);
    } else {
      const guess = closestName(key, OPTION_KEYS);
      layer.warnings.push({
        code: 'PGW_CONFIG_UNKNOWN_KEY',
        option: `options.${key}`,
        message: `Unknown option "${key}" is ignored${guess ? `; did you mean "${guess}"?` : '.'}`,
      });
    }
  }
  return layer;
}

function merge(layers: ConfigLayer[]): { values: Record<string, unknown>; origins: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const origins: Record<string, string> = {};
  for (const layer of layers) {
    for (const key of Object.keys(layer.values) as OptionKey[]) {
      if (values[key] !== undefined) continue;
      values[key] = layer.values[key];
      origins[key] = layer.origins[key] ?? layer.name;
    }
  }
  return { values, origins };
}

function schemaError(
  error: z.ZodError,
  origins: Record<string, string>,
  values: Record<string, unknown>,
): ConfigError {
  const problems = error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const origin = origins[key] ?? key;
    const shown = SECRET_KEYS.has(key as OptionKey) ? '' : ` (got ${JSON.stringify(values[key])})`;
    return { origin, text: `${origin}: ${issue.message}${shown}` };
  });
  const first = problems[0]!;
  return new ConfigError(
    'PGW_CONFIG_INVALID',
    `Invalid configuration: ${problems.map((p) => p.text).join('; ')}.`,
    {
      option: first.origin,
      fix: `Correct ${problems.map((p) => p.origin).join(', ')}; docs/config.md lists the accepted values.`,
    },
  );
}

function resolveEnvironment(
  parsed: ParsedOptions,
  env: Env,
  origins: Record<string, string>,
): { environment: Environment; origin: string } {
  if (parsed.environment)
    return { environment: parsed.environment, origin: origins.environment ?? 'options' };
  for (const name of ENVIRONMENT_VARIABLES) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const environment = normalizeEnvironment(raw);
    // Fail closed: an unrecognised name might be a typo of "production".
    if (!environment) {
      throw new ConfigError('PGW_CONFIG_INVALID', `${name}="${raw}" is not a known environment.`, {
        option: name,
        fix: `Set ${name} to production, staging, development or test (or pass the environment option).`,
      });
    }
    return { environment, origin: name };
  }
  return { environment: 'development', origin: 'default' };
}

function resolveTls(
  parsed: ParsedOptions,
  environment: Environment,
  origins: Record<string, string>,
  sources: Record<string, string>,
  env: Env,
  warnings: ConfigWarning[],
): ResolvedTls {
  const originOf = (key: OptionKey): string => origins[key] ?? `options.${key}`;
  let mode: SslMode;
  // libpq's deprecated PGREQUIRESSL: a value starting with "1" (libpq tests
  // the first character only) is sslmode require when nothing sets sslmode,
  // and never below the environment's own default.
  const requireSsl = !parsed.sslMode && env.PGREQUIRESSL?.[0] === '1';
  if (requireSsl) {
    warnings.push({
      code: 'PGW_CONFIG_DEPRECATED',
      option: 'PGREQUIRESSL',
      message: 'PGREQUIRESSL is deprecated (libpq); set PGSSLMODE=verify-full instead.',
    });
  }
  if (parsed.sslMode) {
    mode = parsed.sslMode;
  } else if (requireSsl && !isProductionLike(environment) && parsed.sslRootCert !== 'system') {
    mode = 'require';
    sources.sslMode = 'PGREQUIRESSL';
  } else if (parsed.sslRootCert === 'system' || isProductionLike(environment)) {
    mode = 'verify-full';
    sources.sslMode =
      parsed.sslRootCert === 'system'
        ? `${originOf('sslRootCert')} (system implies verify-full)`
        : `default for ${environment}`;
  } else {
    mode = 'prefer';
    sources.sslMode = 'default (libpq)';
  }

  let rootCert: PemSource | undefined;
  if (parsed.sslRootCert) {
    rootCert = loadCertificate(parsed.sslRootCert, originOf('sslRootCert'), true);
  } else {
    // libpq's default root certificate location.
    const defaultRoot = join(homedir(), '.postgresql', 'root.crt');
    if (mode !== 'disable' && existsSync(defaultRoot)) {
      rootCert = loadCertificate(defaultRoot, '~/.postgresql/root.crt', false);
      sources.sslRootCert = '~/.postgresql/root.crt';
    }
  }

  if (rootCert?.origin === 'system' && mode !== 'verify-full') {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `sslrootcert=system (${originOf('sslRootCert')}) may only be used with sslmode verify-full, not "${mode}" (${originOf('sslMode')}).`,
      {
        option: originOf('sslMode'),
        fix: 'Use sslmode=verify-full with sslrootcert=system, as libpq demands.',
      },
    );
  }
  if ((mode === 'verify-ca' || mode === 'verify-full') && !rootCert) {
    throw new ConfigError(
      'PGW_TLS_ROOT_CERT_MISSING',
      `sslmode ${mode} (${originOf('sslMode')}) verifies the server certificate, but no root certificate is configured.`,
      {
        option: 'sslRootCert',
        fix: 'Set DB_SSL_CA / PGSSLROOTCERT / ?sslrootcert= to the CA file (or "system" for the platform CA store).',
      },
    );
  }
  // libpq: "if a root CA file exists, sslmode=require behaves as verify-ca".
  const effectiveMode: SslMode =
    mode === 'require' && rootCert && rootCert.origin !== 'system' ? 'verify-ca' : mode;

  const cert = parsed.sslCert ? loadCertificate(parsed.sslCert, originOf('sslCert'), false) : undefined;
  const keyPassphrase =
    parsed.sslKeyPassphrase === undefined
      ? undefined
      : typeof parsed.sslKeyPassphrase === 'string'
        ? new Secret(parsed.sslKeyPassphrase)
        : parsed.sslKeyPassphrase;
  const loadedKey = parsed.sslKey
    ? loadPrivateKey(parsed.sslKey, originOf('sslKey'), keyPassphrase, originOf('sslKeyPassphrase'))
    : undefined;
  if (cert && !loadedKey) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `A client certificate (${originOf('sslCert')}) was given without its key.`,
      {
        option: 'sslKey',
        fix: 'Set DB_SSL_KEY / PGSSLKEY / ?sslkey= to the matching private key.',
      },
    );
  }
  if (loadedKey && !cert) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `A client key (${originOf('sslKey')}) was given without its certificate.`,
      {
        option: 'sslCert',
        fix: 'Set DB_SSL_CERT / PGSSLCERT / ?sslcert= to the matching certificate.',
      },
    );
  }
  if (parsed.sslNegotiation === 'direct' && (mode === 'disable' || mode === 'allow' || mode === 'prefer')) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `sslnegotiation=direct needs sslmode require or stronger, not "${mode}".`,
      {
        option: originOf('sslNegotiation'),
        fix: 'Use sslmode=verify-full with sslnegotiation=direct.',
      },
    );
  }
  if (parsed.channelBinding === 'require' && mode === 'disable') {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      'channel_binding=require needs TLS, but sslmode is disable.',
      {
        option: originOf('channelBinding'),
        fix: 'Use sslmode=verify-full with channel_binding=require.',
      },
    );
  }

  return {
    mode,
    effectiveMode,
    rootCert,
    cert,
    key: loadedKey?.key,
    keyPath: loadedKey?.path,
    keyPassphrase,
    minVersion: parsed.sslMinVersion ?? DEFAULTS.sslMinVersion,
    serverName: parsed.sslServerName,
    negotiation: parsed.sslNegotiation ?? 'postgres',
    channelBinding: parsed.channelBinding ?? 'prefer',
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Secret) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/**
 * Resolves and validates the configuration. Throws a {@link ConfigError} naming
 * the variable or option at fault; returns warnings (typos, ignored keys)
 * for the caller to emit.
 */
export function resolveConfig(options: ConfigOptions & ResolveInputs = {}): Resolution {
  const env = options.env ?? process.env;
  const raw = options as Record<string, unknown>;
  const layers: ConfigLayer[] = [optionsLayer(raw), pgOptionsLayer(raw)];
  if (typeof options.url === 'string') {
    layers.push(parseDatabaseUrl(options.url, 'url'));
  } else if (typeof raw.connectionString === 'string') {
    layers.push(parseDatabaseUrl(raw.connectionString, 'connectionString'));
  }
  layers.push(...readEnvLayers(env));
  if (options.secretCredentials) {
    const { backend, credentials } = options.secretCredentials;
    const origin = `secrets:${backend}`;
    const authority = emptyLayer(origin);
    setValue(authority, 'user', credentials.user, origin);
    setValue(authority, 'password', credentials.password, origin);
    const fill = emptyLayer(origin);
    setValue(fill, 'host', credentials.host, origin);
    setValue(fill, 'port', credentials.port, origin);
    setValue(fill, 'database', credentials.database, origin);
    setValue(fill, 'sslMode', credentials.sslMode, origin);
    setValue(fill, 'sslRootCert', credentials.sslRootCert, origin);
    layers.unshift(authority);
    layers.push(fill);
  }
  const warnings: ConfigWarning[] = layers.flatMap((layer) => layer.warnings);

  const { values, origins } = merge(layers);
  const result = optionsSchema().safeParse(values);
  if (!result.success) throw schemaError(result.error, origins, values);
  const parsed = result.data;

  const sources: Record<string, string> = { ...origins };
  // As pg-pool's connectionTimeoutMillis: a connect timeout also bounds the
  // wait for a free connection, unless an acquire timeout is set of its own.
  if (parsed.acquireTimeoutMs === undefined && parsed.connectionTimeoutMs !== undefined) {
    sources.acquireTimeoutMs = `${origins.connectionTimeoutMs ?? 'connectionTimeoutMs'} (no acquire timeout set)`;
  }
  const { environment, origin: environmentOrigin } = resolveEnvironment(parsed, env, origins);
  sources.environment = environmentOrigin;
  // The key to a password in the encrypted store, judged like the password by the strict policy
  // (policy.ts); which variable gives it is decided as the store's reader decides it.
  if (
    options.secretCredentials?.backend === 'keychain' &&
    storePassphraseVariable(env) === 'PGWARDEN_STORE_PASSPHRASE'
  ) {
    sources.storePassphrase = 'PGWARDEN_STORE_PASSPHRASE';
  }
  const tls = resolveTls(parsed, environment, origins, sources, env, warnings);

  const osUser = safeOsUser();
  const user = parsed.user ?? osUser;
  if (!parsed.user) sources.user = 'default (OS user)';
  let password =
    parsed.password === undefined
      ? undefined
      : typeof parsed.password === 'string'
        ? new Secret(parsed.password)
        : parsed.password;
  const min = parsed.min ?? DEFAULTS.min;
  const max = parsed.max ?? Math.max(DEFAULTS.max, min);
  if (min > max) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `The pool minimum (${min}, ${origins.min}) exceeds its maximum (${max}, ${origins.max ?? 'default'}).`,
      {
        option: origins.min ?? 'min',
        fix: 'Lower the minimum or raise the maximum.',
      },
    );
  }

  const pooler = parsed.pooler ?? 'none';
  if (pooler !== 'none' && tls.channelBinding === 'require') {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `channel_binding=require (${origins.channelBinding ?? 'channelBinding'}) cannot pass a connection pooler (${origins.pooler ?? 'pooler'}=${pooler}): the pooler ends the client's TLS session, so the SCRAM exchange cannot be bound to the server's.`,
      {
        option: origins.channelBinding ?? 'channelBinding',
        fix: 'Use channel_binding=prefer behind the pooler (verify-full TLS still authenticates it), or connect to PostgreSQL directly.',
      },
    );
  }
  const hosts = parseHostList(parsed.host ?? DEFAULTS.host, parsed.port, DEFAULTS.port, {
    host: origins.host ?? 'host',
    port: origins.port ?? 'port',
  });
  // libpq's password file, when no source gave a password (for the first host of a list).
  if (password === undefined) {
    const found = lookupPgpass(
      { host: hosts[0]!.host, port: hosts[0]!.port, database: parsed.database ?? user, user },
      env,
    );
    warnings.push(...found.warnings);
    if (found.password !== undefined) {
      password = new Secret(found.password);
      sources.password = `PGPASSFILE ${found.file ?? ''}`.trim();
    }
  }
  const replicaHosts =
    parsed.readReplicas === undefined
      ? []
      : parseReplicaList(
          parsed.readReplicas,
          parsed.readReplicaPort ?? hosts[0]!.port,
          origins.readReplicas ?? 'readReplicas',
        );

  const config: ResolvedConfig = {
    environment,
    policy: parsed.policy ?? DEFAULTS.policy,
    host: hosts[0]!.host,
    port: hosts[0]!.port,
    hosts,
    targetSessionAttrs: parsed.targetSessionAttrs ?? 'any',
    pooler,
    replicas: {
      hosts: replicaHosts,
      maxLagMs: parsed.replicaMaxLagMs ?? DEFAULTS.replicaMaxLagMs,
      checkIntervalMs: parsed.replicaCheckIntervalMs ?? DEFAULTS.replicaCheckIntervalMs,
    },
    failoverTimeoutMs: parsed.failoverTimeoutMs ?? DEFAULTS.failoverTimeoutMs,
    database: parsed.database ?? user,
    user,
    password,
    applicationName: parsed.applicationName ?? DEFAULTS.applicationName,
    tls,
    pool: {
      min,
      max,
      connectionTimeoutMs: parsed.connectionTimeoutMs ?? DEFAULTS.connectionTimeoutMs,
      acquireTimeoutMs: parsed.acquireTimeoutMs ?? parsed.connectionTimeoutMs ?? DEFAULTS.acquireTimeoutMs,
      idleTimeoutMs: parsed.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      maxLifetimeMs: parsed.maxLifetimeMs ?? DEFAULTS.maxLifetimeMs,
      prePingIdleMs: parsed.prePingIdleMs ?? DEFAULTS.prePingIdleMs,
      queryTimeoutMs: parsed.queryTimeoutMs,
      usageAlertRatio: parsed.poolUsageAlertRatio ?? 0.9,
    },
    session: {
      statementTimeoutMs: parsed.statementTimeoutMs,
      idleInTransactionSessionTimeoutMs: parsed.idleInTransactionSessionTimeoutMs,
      lockTimeoutMs: parsed.lockTimeoutMs,
    },
    sources,
  };
  return { config: deepFreeze(config), warnings };
}

function safeOsUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}
