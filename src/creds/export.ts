/**
 * `pgwarden creds export`: an environment as a connection URI, libpq `PG*`
 * variables (read by psql, pg_dump and pgwarden itself) or JSON. The password
 * is included only when the caller passes it.
 */
import type { Secret } from '../redact/secret.js';
import { CredsError } from './creds-error.js';
import type { CredentialEnvironment } from './environment.js';

export const EXPORT_FORMATS = ['uri', 'env', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function assertExportFormat(format: string): asserts format is ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new CredsError('PGW_CREDS_INVALID', `"${format}" is not an export format.`, {
      option: '--format',
      fix: 'Use --format uri, env or json.',
    });
  }
}

export function exportEnvironment(
  environment: CredentialEnvironment,
  format: ExportFormat,
  password?: Secret,
): string {
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
  if (format === 'env') {
    const pairs: Array<[string, string | number | undefined]> = [
      ['PGHOST', fields.host],
      ['PGPORT', fields.port],
      ['PGDATABASE', fields.database],
      ['PGUSER', fields.user],
      ['PGSSLMODE', fields.sslmode],
      ['PGSSLROOTCERT', fields.sslrootcert],
      ['PGPASSWORD', password?.reveal()],
    ];
    return pairs
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${shellQuote(String(v))}\n`)
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

/** POSIX single quotes, which keep every character literal. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
