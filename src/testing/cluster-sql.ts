import { escapeIdentifier, escapeLiteral } from 'pg';
import { ConfigError } from '../errors.js';
import { isSecret, type Secret } from '../redact/secret.js';
import type { CreateRoleOptions, UrlOptions } from './cluster-options.js';
import { scramSha256Verifier } from './scram-verifier.js';

// Attributes are SQL keywords pasted into the statement: no quotes, no semicolons.
const ATTRIBUTES = /^[A-Za-z0-9 ]*$/;

/**
 * `CREATE ROLE` with the name quoted and the password replaced by its SCRAM
 * verifier, so the statement holds nothing secret even if the server logs it.
 *
 * @throws ConfigError `PGW_CONFIG_INVALID` when `attributes` is more than keywords.
 */
export function createRoleSql(name: string, options: CreateRoleOptions = {}): string {
  const attributes = options.attributes ?? 'LOGIN';
  if (!ATTRIBUTES.test(attributes)) {
    throw new ConfigError('PGW_CONFIG_INVALID', 'Role attributes may only hold letters, digits and spaces.', {
      option: 'attributes',
      fix: 'Run other statements with adminQuery().',
    });
  }
  let sql = `CREATE ROLE ${escapeIdentifier(name)} WITH ${attributes}`;
  if (options.password !== undefined) {
    sql += ` PASSWORD ${escapeLiteral(scramSha256Verifier(reveal(options.password)))}`;
  }
  if (options.inRoles && options.inRoles.length > 0) {
    sql += ` IN ROLE ${options.inRoles.map((role) => escapeIdentifier(role)).join(', ')}`;
  }
  return sql;
}

/** `CREATE DATABASE` with quoted names. */
export function createDatabaseSql(name: string, owner?: string): string {
  const ownerClause = owner === undefined ? '' : ` OWNER ${escapeIdentifier(owner)}`;
  return `CREATE DATABASE ${escapeIdentifier(name)}${ownerClause}`;
}

/** A `postgresql://` URL with user, password and database percent-encoded. */
export function connectionUrl(host: string, port: number, options: UrlOptions): string {
  const auth =
    encodeURIComponent(options.user) +
    (options.password === undefined ? '' : `:${encodeURIComponent(reveal(options.password))}`);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const database = encodeURIComponent(options.database ?? 'postgres');
  const query = new URLSearchParams(options.params ?? {}).toString();
  return `postgresql://${auth}@${hostPart}:${port}/${database}${query ? `?${query}` : ''}`;
}

function reveal(value: string | Secret): string {
  return isSecret(value) ? value.reveal() : value;
}
