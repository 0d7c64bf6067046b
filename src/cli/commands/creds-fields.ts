/**
 * Turns `pgwarden creds add|update` flags into environment fields: explicit
 * flags, then `--url`, then (for `add` only) the environment as the pool
 * reads it (DATABASE_URL, DB_*, PG*). A URL carrying a password is refused:
 * it would be a password in argv.
 */
import { resolveConfig } from '../../config/resolve.js';
import { SSL_MODES, type SslMode } from '../../config/schema.js';
import { parseDatabaseUrl } from '../../config/url.js';
import type { EnvironmentFields } from '../../creds/environment.js';
import { CliUsageError } from '../../errors.js';

export interface FieldFlags {
  url?: string;
  host?: string;
  port?: string;
  database?: string;
  user?: string;
  sslmode?: string;
  sslrootcert?: string;
  production?: boolean;
}

function refuseUrlPassword(url: string): Record<string, unknown> {
  const layer = parseDatabaseUrl(url, '--url');
  if (layer.values.password !== undefined) {
    throw new CliUsageError('--url holds a password; passwords are never taken from arguments.', {
      option: '--url',
      fix: 'Drop the password from the URL and use --password-stdin or the prompt. Change that password, since it is now in your shell history.',
    });
  }
  return layer.values;
}

function sslModeFlag(value: string | undefined): SslMode | undefined {
  if (value === undefined) return undefined;
  if (!(SSL_MODES as readonly string[]).includes(value)) {
    throw new CliUsageError(`--sslmode "${value}" is not an sslmode.`, {
      option: '--sslmode',
      fix: 'Use disable, allow, prefer, require, verify-ca or verify-full.',
    });
  }
  return value as SslMode;
}

function portFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliUsageError(`--port "${value}" is not a port.`, {
      option: '--port',
      fix: 'Pass 1 to 65535.',
    });
  }
  return port;
}

/** Only what the flags and --url say (for `update`). */
export function explicitFields(flags: FieldFlags): EnvironmentFields {
  const fromUrl = flags.url === undefined ? {} : refuseUrlPassword(flags.url);
  const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
  const fields: EnvironmentFields = {
    host: flags.host ?? str(fromUrl.host),
    port: portFlag(flags.port) ?? (fromUrl.port === undefined ? undefined : Number(fromUrl.port)),
    database: flags.database ?? str(fromUrl.database),
    user: flags.user ?? str(fromUrl.user),
    sslMode: sslModeFlag(flags.sslmode) ?? (str(fromUrl.sslMode) as SslMode | undefined),
    sslRootCert: flags.sslrootcert ?? str(fromUrl.sslRootCert),
  };
  if (flags.production !== undefined) fields.production = flags.production;
  return fields;
}

/**
 * Flags, --url, then the environment as createPool resolves it (defaults
 * included, like libpq), for `add`. The resolution also validates the CA path.
 */
export function resolvedFields(flags: FieldFlags, env: NodeJS.ProcessEnv = process.env): EnvironmentFields {
  const explicit = explicitFields(flags);
  const { config } = resolveConfig({
    env,
    ...(flags.url !== undefined ? { url: flags.url } : {}),
    ...Object.fromEntries(
      Object.entries({
        host: explicit.host,
        port: explicit.port,
        database: explicit.database,
        user: explicit.user,
        sslMode: explicit.sslMode,
        sslRootCert: explicit.sslRootCert,
      }).filter(([, v]) => v !== undefined),
    ),
    // The password, if the environment holds one, is not used: it comes from the prompt or stdin.
    password: undefined,
    environment: flags.production ? 'production' : 'development',
  });
  const sslModeSource = config.sources.sslMode ?? '';
  const root = config.tls.rootCert;
  if (root?.origin === 'inline') {
    throw new CliUsageError('The CA certificate is inline PEM; an environment stores a path.', {
      option: '--sslrootcert',
      fix: 'Save the CA to a file and pass --sslrootcert <path> (or "system").',
    });
  }
  const rootSource = config.sources.sslRootCert ?? '';
  return {
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    sslMode: sslModeSource.startsWith('default') ? undefined : config.tls.mode,
    sslRootCert:
      root && !rootSource.startsWith('~')
        ? root.origin === 'file'
          ? root.path
          : root.origin === 'system'
            ? 'system'
            : undefined
        : undefined,
    production: flags.production ?? false,
  };
}
