/**
 * Role, schema and database names from a roles file. They are always quoted
 * in SQL (`quoteIdentifier`), so quotes and semicolons are harmless; these
 * checks refuse names PostgreSQL would silently change (over 63 bytes:
 * truncated, which would make every later plan differ) or reserves, and
 * names with control characters: a newline or carriage return ends a `--`
 * comment of a printed plan, an escape sequence drives the terminal that
 * shows it, and no legitimate name needs one.
 */
import { hasControlCharacters } from '../text/terminal-text.js';

const CONTROL_PROBLEM = 'a name cannot contain control characters (newline, carriage return, escape…)';

const RESERVED_ROLES = new Set(['public', 'current_user', 'session_user', 'current_role', 'none']);

/** Why `name` cannot be a role name, or undefined when it can. */
export function roleNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a role name cannot be empty';
  if (name.includes('\0')) return 'a role name cannot contain NUL';
  if (hasControlCharacters(name)) return CONTROL_PROBLEM;
  if (Buffer.byteLength(name) > 63) return 'longer than 63 bytes (PostgreSQL would truncate it)';
  if (name.startsWith('pg_')) return 'names starting with pg_ are reserved for PostgreSQL';
  if (RESERVED_ROLES.has(name.toLowerCase())) return `"${name}" is reserved`;
  return undefined;
}

/** Why `name` cannot be a schema or database name, or undefined. */
export function objectNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a name cannot be empty';
  if (name.includes('\0')) return 'a name cannot contain NUL';
  if (hasControlCharacters(name)) return CONTROL_PROBLEM;
  if (Buffer.byteLength(name) > 63) return 'longer than 63 bytes (PostgreSQL would truncate it)';
  return undefined;
}
