/**
 * Role, schema and database names from a roles file. They are always quoted
 * in SQL (`quoteIdentifier`), so any character is harmless; these checks only
 * refuse names PostgreSQL would silently change (over 63 bytes: truncated,
 * which would make every later plan differ) or reserves.
 */
const RESERVED_ROLES = new Set(['public', 'current_user', 'session_user', 'current_role', 'none']);

/** Why `name` cannot be a role name, or undefined when it can. */
export function roleNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a role name cannot be empty';
  if (name.includes('\0')) return 'a role name cannot contain NUL';
  if (Buffer.byteLength(name) > 63) return 'longer than 63 bytes (PostgreSQL would truncate it)';
  if (name.startsWith('pg_')) return 'names starting with pg_ are reserved for PostgreSQL';
  if (RESERVED_ROLES.has(name.toLowerCase())) return `"${name}" is reserved`;
  return undefined;
}

/** Why `name` cannot be a schema or database name, or undefined. */
export function objectNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a name cannot be empty';
  if (name.includes('\0')) return 'a name cannot contain NUL';
  if (Buffer.byteLength(name) > 63) return 'longer than 63 bytes (PostgreSQL would truncate it)';
  return undefined;
}
