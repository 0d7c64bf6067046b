/**
 * Identifiers and literals for remediation SQL shown to people: quoted only
 * when needed, so `ALTER ROLE app NOSUPERUSER;` reads naturally.
 */
import { quoteIdentifier } from '../sql/sql.js';

const RESERVED = new Set([
  'all',
  'user',
  'public',
  'group',
  'role',
  'order',
  'table',
  'select',
  'grant',
  'default',
]);

export function ident(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : quoteIdentifier(name);
}

/** `schema.name`, each part quoted only when needed. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
