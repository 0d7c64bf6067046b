/**
 * The connection flags commands share (`--url`, `--profile`, `--env`,
 * `--policy`), checked once and turned into the options the library takes.
 * Every command that connects resolves its target here: a stored profile
 * (`--profile`, default `DB_PROFILE`), else `--url`, else the environment
 * (DATABASE_URL, DB_*, PG*). The result goes to createPool, so the production
 * gate judges a profile's link like any other.
 */
import type { Env } from '../config/env-source.js';
import { normalizeEnvironment, type Environment } from '../config/environment.js';
import { POLICY_PROFILES, type ConfigOptions, type PolicyProfile } from '../config/schema.js';
import type { CredentialStore } from '../creds/store.js';
import { ConfigError, CliUsageError } from '../errors.js';
import { terminalText } from '../text/terminal-text.js';

export interface ConnectionFlags {
  url?: string;
  env?: string;
  policy?: string;
}

export interface TargetFlags extends ConnectionFlags {
  /** `--profile NAME`: a stored connection (`pgwarden creds add NAME`). */
  profile?: string;
  /** `--admin-env NAME`: the deprecated spelling of `--profile`. */
  adminEnv?: string;
}

export interface TargetOptions {
  /** Where `DB_PROFILE` is read. Default `process.env`. */
  env?: Env;
  /**
   * Whether `DB_PROFILE` stands in for a missing `--profile`. Default true;
   * false where only an explicit target is safe (`backup restore`) or where
   * the default is something else (`creds rotate`: the rotated profile).
   */
  profileFromEnv?: boolean;
  /** The store to read profiles from. Default: the store of `$PGWARDEN_HOME`. */
  store?: () => CredentialStore;
  /** Receives the deprecation warning of `--admin-env`. Default: standard error. */
  warn?: (line: string) => void;
}

/** Options for resolveConfig/createPool; usage errors (exit 2) for a bad --env or --policy. */
export function connectionOptions(flags: ConnectionFlags): {
  url?: string;
  environment?: Environment;
  policy?: PolicyProfile;
} {
  const environment = flags.env === undefined ? undefined : normalizeEnvironment(flags.env);
  if (flags.env !== undefined && !environment) {
    throw new CliUsageError(`--env "${flags.env}" is not an environment.`, {
      option: '--env',
      fix: 'Use production, staging, development or test.',
    });
  }
  if (flags.policy !== undefined && !(POLICY_PROFILES as readonly string[]).includes(flags.policy)) {
    throw new CliUsageError(`--policy "${flags.policy}" is not a policy.`, {
      option: '--policy',
      fix: 'Use standard or strict.',
    });
  }
  return {
    ...(flags.url !== undefined ? { url: flags.url } : {}),
    ...(environment ? { environment } : {}),
    ...(flags.policy ? { policy: flags.policy as PolicyProfile } : {}),
  };
}

/**
 * The profile a command connects with, or undefined for `--url` / the
 * environment. `--url` with `--profile` is a usage error; `--admin-env`
 * warns once and must agree with `--profile` when both are given.
 */
export function profileName(flags: TargetFlags, options: TargetOptions = {}): string | undefined {
  if (flags.adminEnv !== undefined) {
    (options.warn ?? ((line) => void process.stderr.write(line)))(
      `pgwarden: PGW_CONFIG_DEPRECATED: --admin-env is deprecated; use --profile ${terminalText(flags.adminEnv.slice(0, 80))}.\n`,
    );
    if (flags.profile !== undefined && flags.profile !== flags.adminEnv) {
      throw new ConfigError(
        'PGW_CONFIG_CONFLICT',
        `--profile "${flags.profile.slice(0, 80)}" and --admin-env "${flags.adminEnv.slice(0, 80)}" name different profiles.`,
        { option: '--profile', fix: 'Keep --profile and drop --admin-env, its deprecated spelling.' },
      );
    }
  }
  const explicit = flags.profile ?? flags.adminEnv;
  if (explicit !== undefined && flags.url !== undefined) {
    const flag = flags.profile !== undefined ? '--profile' : '--admin-env';
    throw new CliUsageError(`--url and ${flag} both name the connection.`, {
      option: flag,
      fix: `Pass --url or ${flag}, not both.`,
    });
  }
  if (explicit !== undefined) return explicit;
  if (flags.url !== undefined || options.profileFromEnv === false) return undefined;
  const fromEnv = (options.env ?? process.env).DB_PROFILE;
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/**
 * What a command connects to: the options of a stored profile, else `--url`,
 * else nothing (createPool reads DATABASE_URL, DB_*, PG*). `--env` may judge
 * a profile more strictly, never a production profile as anything else.
 */
export async function connectionTarget(
  flags: TargetFlags,
  options: TargetOptions = {},
): Promise<ConfigOptions & { env?: Env }> {
  const connection = connectionOptions(flags);
  const name = profileName(flags, options);
  if (name === undefined) return connection;
  const [{ profileConnection }, { CredentialStore }] = await Promise.all([
    import('../creds/profile.js'),
    import('../creds/store.js'),
  ]);
  // Through the deprecated --admin-env an unknown name keeps its old code, PGW_CREDS_UNKNOWN_ENV.
  const legacy = flags.profile === undefined && flags.adminEnv !== undefined;
  const profile = await profileConnection(name, options.store?.() ?? new CredentialStore(), { legacy });
  if (
    connection.environment !== undefined &&
    profile.environment === 'production' &&
    connection.environment !== 'production'
  ) {
    throw new CliUsageError(
      `--env ${connection.environment} cannot judge the production profile "${name.slice(0, 80)}".`,
      { option: '--env', fix: 'Drop --env (a production profile is judged as production).' },
    );
  }
  return {
    ...profile,
    ...(connection.environment ? { environment: connection.environment } : {}),
    ...(connection.policy ? { policy: connection.policy } : {}),
  };
}
