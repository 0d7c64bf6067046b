/**
 * `pgwarden creds export`: an environment as a connection URI, libpq `PG*`
 * variables (read by psql, pg_dump and pgwarden itself) for a shell
 * (`env`: `export NAME='value'`, safe to `eval`) or a .env file (`dotenv`),
 * or JSON. The password is included only when the caller passes it, and is
 * best handed over as a 0600 libpq passfile ({@link writePassfile}, then
 * `PGPASSFILE`) rather than as `PGPASSWORD`, which every child process and
 * `/proc/<pid>/environ` would see.
 */
import { resolve } from 'node:path';
import type { Secret } from '../redact/secret.js';
import { CredsError } from './creds-error.js';
import type { CredentialEnvironment } from './environment.js';
import { writeFileAtomic } from './metadata-file.js';

export const EXPORT_FORMATS = ['uri', 'env', 'dotenv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function assertExportFormat(format: string): asserts format is ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new CredsError('PGW_CREDS_INVALID', `"${format}" is not an export format.`, {
      option: '--format',
      fix: 'Use --format uri, env, dotenv or json.',
    });
  }
}

/** What to put in the output besides the connection fields. */
export interface ExportSecrets {
  /** The password itself (`PGPASSWORD`, the URI, JSON). */
  password?: Secret | undefined;
  /** The path of a passfile holding it (`PGPASSFILE`; env and dotenv only). */
  passfile?: string | undefined;
}

export function exportEnvironment(
  environment: CredentialEnvironment,
  format: ExportFormat,
  secrets: Secret | ExportSecrets = {},
): string {
  const { password, passfile } = isSecretLike(secrets) ? { password: secrets, passfile: undefined } : secrets;
  const fields = {
    host: environment.host,
    port: environment.port,
    database: environment.database,
    user: environment.user,
    sslmode: environment.sslMode,
    sslrootcert: environment.sslRootCert,
  };
  if (format === 'json') {
    const out: Record<string, unknown> = Object.fromEntries(
      Object.entries(fields).filter(([, v]) => v !== undefined),
    );
    if (password) out.password = password.reveal();
    return `${JSON.stringify(out, null, 2)}\n`;
  }
  if (format === 'env' || format === 'dotenv') {
    const pairs: Array<[string, string | number | undefined]> = [
      ['PGHOST', fields.host],
      ['PGPORT', fields.port],
      ['PGDATABASE', fields.database],
      ['PGUSER', fields.user],
      ['PGSSLMODE', fields.sslmode],
      ['PGSSLROOTCERT', fields.sslrootcert],
      ['PGPASSFILE', passfile],
      ['PGPASSWORD', password?.reveal()],
    ];
    return pairs
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) =>
        format === 'env' ? `export ${k}=${shellQuote(String(v))}\n` : `${k}=${dotenvQuote(String(v))}\n`,
      )
      .join('');
  }
  const auth =
    fields.user === undefined
      ? ''
      : encodeURIComponent(fields.user) + (password ? `:${encodeURIComponent(password.reveal())}` : '') + '@';
  const host =
    fields.host === undefined
      ? ''
      : fields.host.includes(':')
        ? `[${fields.host}]`
        : fields.host.startsWith('/')
          ? ''
          : fields.host;
  const params = new URLSearchParams();
  if (fields.host?.startsWith('/')) params.set('host', fields.host);
  if (fields.sslmode) params.set('sslmode', fields.sslmode);
  if (fields.sslrootcert) params.set('sslrootcert', fields.sslrootcert);
  const query = params.toString();
  return `postgresql://${auth}${host}${fields.port === undefined ? '' : `:${fields.port}`}/${encodeURIComponent(fields.database ?? '')}${query ? `?${query}` : ''}\n`;
}

/**
 * POSIX single quotes, always: they keep every character literal (`$`,
 * backquotes, `;`, newlines), and a quote inside is closed, escaped and
 * reopened. `eval "$(pgwarden creds export … --format env)"` runs nothing.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * .env quoting: single quotes (literal) when the value holds none, else
 * double quotes with `\\`, `\"`, `\n`, `\r` and `\$` escaped, which dotenv
 * parsers (and pgwarden's own) read back exactly.
 */
export function dotenvQuote(value: string): string {
  if (!/['\r\n]/.test(value)) return `'${value}'`;
  const escaped = value
    .replace(/[\\"$]/g, (ch) => `\\${ch}`)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r');
  return `"${escaped}"`;
}

function isSecretLike(value: Secret | ExportSecrets): value is Secret {
  return typeof (value as { reveal?: unknown }).reveal === 'function';
}

/** Escapes a pgpass field: `\\` and `:` are special there. */
function pgpassField(value: string | number | undefined): string {
  if (value === undefined) return '*';
  return String(value).replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/**
 * Writes a libpq password file (mode 0600, atomically) holding one line for
 * the environment's host, port, database and user (`*` for what is unset),
 * and returns its absolute path for `PGPASSFILE`. libpq, psql, pg_dump and
 * pgwarden read it.
 */
export function writePassfile(path: string, environment: CredentialEnvironment, password: Secret): string {
  const value = password.reveal();
  if (/[\r\n]/.test(value)) {
    throw new CredsError(
      'PGW_CREDS_INVALID',
      'The password contains a line break, which a libpq passfile cannot hold.',
      {
        option: '--passfile',
        fix: 'Rotate to a password without line breaks (pgwarden creds rotate), or use --password.',
      },
    );
  }
  const absolute = resolve(path);
  const line = [
    // A socket directory is compared literally by libpq (or as "localhost" for the default one): match any.
    pgpassField(environment.host?.startsWith('/') ? undefined : environment.host),
    pgpassField(environment.port),
    pgpassField(environment.database),
    pgpassField(environment.user),
    value.replace(/\\/g, '\\\\').replace(/:/g, '\\:'),
  ].join(':');
  writeFileAtomic(absolute, `${line}\n`);
  return absolute;
}
