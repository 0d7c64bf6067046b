/**
 * The on-disk format of `$PGWARDEN_HOME/credentials.json`, shared by the
 * `keychain` backend (reader) and the `pgwarden creds` command (writer).
 *
 * It holds only NON-secret metadata about each environment: where to
 * connect and when the password was set or expires. The password itself
 * lives in the OS credential store under service `pgwarden`, account
 * `<environment>`. The parser refuses any secret-looking key, so a password
 * written here by hand is caught instead of silently sitting in a plain file.
 *
 * ```json
 * {
 *   "version": 1,
 *   "environments": {
 *     "prod": {
 *       "host": "db.example.com", "port": 5432, "database": "app", "user": "app_user",
 *       "sslmode": "verify-full", "sslrootcert": "/etc/ssl/certs/rds-ca.pem",
 *       "production": true,
 *       "updated_at": "2025-01-31T10:00:00Z", "expires_at": "2025-05-01T10:00:00Z"
 *     }
 *   }
 * }
 * ```
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { loadZod } from '../config/zod.js';
import type { EnvSource } from './env-source.js';

/** The keychain service every entry is stored under. */
export const KEYCHAIN_SERVICE = 'pgwarden';
/** The current format version; readers refuse newer ones instead of misreading them. */
export const KEYCHAIN_STORE_VERSION = 1;
export const KEYCHAIN_STORE_FILE = 'credentials.json';
/** The encrypted store next to it (`pgwarden creds --store file`). */
export const ENCRYPTED_STORE_FILE = 'credentials.enc';

/** Environment names double as keychain account names: keep them portable. */
export const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

function buildSchemas(zod: typeof z) {
  /** Metadata of one environment. Every field is optional; unknown fields are ignored. */
  const environment = zod.object({
    host: zod.string().min(1).optional(),
    port: zod.number().int().min(1).max(65535).optional(),
    database: zod.string().min(1).optional(),
    user: zod.string().min(1).optional(),
    sslmode: zod.enum(SSL_MODES).optional(),
    /** A path to the CA bundle, or `system`. */
    sslrootcert: zod.string().min(1).optional(),
    /** Marks production credentials; `pgwarden creds` asks for confirmation before touching them. */
    production: zod.boolean().optional(),
    /**
     * Where the password is: the OS keychain (default) or the encrypted file
     * `credentials.enc` next to this one (`pgwarden creds add --store file`).
     */
    store: zod.enum(['keychain', 'file']).optional(),
    /** When the password was last set (ISO 8601). */
    updated_at: zod.iso.datetime({ offset: true }).optional(),
    /** When the password should be rotated by (ISO 8601), e.g. 90 days after `updated_at`. */
    expires_at: zod.iso.datetime({ offset: true }).optional(),
  });
  const store = zod.object({
    version: zod.literal(KEYCHAIN_STORE_VERSION),
    environments: zod.record(zod.string().regex(ENVIRONMENT_NAME), environment),
  });
  return { environment, store };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;

/**
 * The metadata file's schemas, built on first use so that importing the
 * secrets backends does not load zod.
 */
export function keychainSchemas(): ReturnType<typeof buildSchemas> {
  return (schemas ??= buildSchemas(loadZod()));
}

export type KeychainEnvironmentMetadata = z.infer<ReturnType<typeof buildSchemas>['environment']>;
export type KeychainStore = z.infer<ReturnType<typeof buildSchemas>['store']>;

/** Keys that must never appear in the metadata file. */
const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|private_?key/i;

/** Why a credentials.json could not be used; the message holds no file content. */
export class KeychainStoreFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeychainStoreFormatError';
  }
}

/**
 * Parses credentials.json text. Zod's issue messages name paths and expected
 * types, not input values, so they are safe to show.
 */
export function parseKeychainStore(text: string): KeychainStore {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new KeychainStoreFormatError('it is not valid JSON');
  }
  const secretPath = findSecretKey(raw, []);
  if (secretPath !== undefined) {
    throw new KeychainStoreFormatError(
      `it contains a secret-looking key "${secretPath}"; passwords belong in the OS keychain, never in this file`,
    );
  }
  const result = keychainSchemas().store.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'the top level';
    throw new KeychainStoreFormatError(`${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

/** Serializes for writing (by `pgwarden creds`): stable key order, trailing newline. */
export function serializeKeychainStore(store: KeychainStore): string {
  return `${JSON.stringify(keychainSchemas().store.parse(store), null, 2)}\n`;
}

/** An empty store, for the first `pgwarden creds add`. */
export function emptyKeychainStore(): KeychainStore {
  return { version: KEYCHAIN_STORE_VERSION, environments: {} };
}

/**
 * `$PGWARDEN_HOME`, else `$XDG_CONFIG_HOME/pgwarden`, else `~/.config/pgwarden`.
 */
export function pgwardenHome(env: EnvSource): string {
  const explicit = env.PGWARDEN_HOME;
  if (explicit) return explicit;
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg ? xdg : join(env.HOME || homedir(), '.config'), 'pgwarden');
}

function findSecretKey(value: unknown, path: string[]): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    // Environment names are user-chosen (an environment may be called "tokens"): only check field names.
    const isEnvironmentName = path.length === 1 && path[0] === 'environments';
    if (!isEnvironmentName && SECRET_KEY.test(key)) return [...path, key].join('.');
    const found = findSecretKey(item, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}
