import { Secret } from '../redact/secret.js';
import { backendError } from './backend-error.js';
import type { Credentials } from './provider.js';

/**
 * Which keys of a JSON secret hold which credential field. Each list is tried
 * in order, so `['DB_PASSWORD', 'password']` accepts both conventions.
 */
export interface CredentialFieldMap {
  password: readonly string[];
  user: readonly string[];
  host: readonly string[];
  port: readonly string[];
  database: readonly string[];
}

/** The JSON format RDS-managed and rotation-Lambda secrets use. */
export const RDS_SECRET_FIELDS: CredentialFieldMap = Object.freeze({
  password: ['password'],
  user: ['username'],
  host: ['host'],
  port: ['port'],
  database: ['dbname'],
});

/** Where a secret came from, for messages: `secret takumi/prod`, `Vault path secret/app`. */
export interface SecretLocation {
  backend: string;
  /** Human description of the secret, without any value. */
  where: string;
}

/**
 * Turns a parsed JSON secret into {@link Credentials}. The password is wrapped
 * in a {@link Secret} before anything else can see it; messages list key
 * *names* present (useful to spot `DB_PASS` vs `DB_PASSWORD`), never values.
 */
export function credentialsFromObject(
  object: Readonly<Record<string, unknown>>,
  fields: CredentialFieldMap,
  location: SecretLocation,
): Credentials {
  const password = pick(object, fields.password);
  if (password === undefined || password.value === null || password.value === '') {
    throw backendError(
      'PGW_SECRET_FIELD_MISSING',
      location.backend,
      `${location.where} has no ${fields.password.map((f) => `"${f}"`).join(' or ')} field (keys present: ${keyList(object)}).`,
      {
        fix: `Add a ${quoteFirst(fields.password)} field to the secret, or map the field name in the settings.`,
      },
    );
  }
  if (typeof password.value !== 'string') {
    throw backendError(
      'PGW_SECRET_MALFORMED',
      location.backend,
      `${location.where}: field "${password.key}" is a ${typeName(password.value)}, not a string.`,
      { fix: `Store the password as a JSON string.` },
    );
  }
  const credentials: Credentials = { password: new Secret(password.value) };
  const user = optionalString(object, fields.user, location);
  if (user !== undefined) credentials.user = user;
  const host = optionalString(object, fields.host, location);
  if (host !== undefined) credentials.host = host;
  const database = optionalString(object, fields.database, location);
  if (database !== undefined) credentials.database = database;
  const port = optionalPort(object, fields.port, location);
  if (port !== undefined) credentials.port = port;
  return credentials;
}

function pick(
  object: Readonly<Record<string, unknown>>,
  keys: readonly string[],
): { key: string; value: unknown } | undefined {
  for (const key of keys) {
    if (Object.hasOwn(object, key) && object[key] !== undefined) return { key, value: object[key] };
  }
  return undefined;
}

function optionalString(
  object: Readonly<Record<string, unknown>>,
  keys: readonly string[],
  location: SecretLocation,
): string | undefined {
  const found = pick(object, keys);
  if (found === undefined || found.value === null || found.value === '') return undefined;
  if (typeof found.value !== 'string') {
    throw backendError(
      'PGW_SECRET_MALFORMED',
      location.backend,
      `${location.where}: field "${found.key}" is a ${typeName(found.value)}, not a string.`,
      { fix: `Store "${found.key}" as a JSON string.` },
    );
  }
  return found.value;
}

function optionalPort(
  object: Readonly<Record<string, unknown>>,
  keys: readonly string[],
  location: SecretLocation,
): number | undefined {
  const found = pick(object, keys);
  if (found === undefined || found.value === null || found.value === '') return undefined;
  // RDS writes the port as a number, hand-written secrets often as a string.
  const port =
    typeof found.value === 'string' && /^\d+$/.test(found.value) ? Number(found.value) : found.value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw backendError(
      'PGW_SECRET_MALFORMED',
      location.backend,
      `${location.where}: field "${found.key}" is not a port number (1-65535).`,
      { fix: `Store "${found.key}" as a number such as 5432.` },
    );
  }
  return port;
}

function keyList(object: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(object);
  if (keys.length === 0) return 'none';
  const shown = keys.slice(0, 20).map((k) => JSON.stringify(k.slice(0, 64)));
  return keys.length > 20 ? `${shown.join(', ')}, …` : shown.join(', ');
}

function quoteFirst(names: readonly string[]): string {
  return `"${names[0] ?? 'password'}"`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
