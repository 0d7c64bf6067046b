/**
 * The production policy: named rules evaluated together. In production and
 * staging every violation refuses startup (all of them listed at once);
 * elsewhere each is a coded warning.
 */
import type { PolicyViolation } from '../errors.js';
import { COMMON_PASSWORDS } from './common-passwords.js';
import type { ResolvedConfig } from './schema.js';

export const MIN_PASSWORD_LENGTH = 16;

/** Where the password came from, as the policy sees it. */
export type PasswordSourceKind =
  'none' | 'options' | 'plaintext-env' | 'url-in-env' | 'url-option' | 'dotenv' | 'secrets-backend';

/** Classifies `config.sources.password` (e.g. `DB_PASSWORD`, `DATABASE_URL password`). */
export function passwordSourceKind(config: ResolvedConfig): PasswordSourceKind {
  const source = config.sources.password;
  if (!config.password || !source) return 'none';
  if (source.startsWith('dotenv') || source === 'secrets:dotenv') return 'dotenv';
  // SECRETS_BACKEND=env is still a plaintext environment variable.
  if (source === 'secrets:env') return 'plaintext-env';
  if (source.startsWith('secrets:')) return 'secrets-backend';
  if (source.startsWith('DATABASE_URL')) return 'url-in-env';
  if (source.startsWith('url ') || source.startsWith('connectionString ')) return 'url-option';
  // libpq's password file is judged like the environment: plaintext the platform manages.
  if (source === 'DB_PASSWORD' || source === 'PGPASSWORD' || source.startsWith('PGPASSFILE')) {
    return 'plaintext-env';
  }
  return 'options';
}

/** Rules that can be judged from the configuration alone, before connecting. */
export function evaluateConfigPolicy(config: ResolvedConfig): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  const { tls } = config;
  const modeOrigin = config.sources.sslMode ?? 'sslMode';

  if (tls.effectiveMode === 'disable' || tls.effectiveMode === 'allow' || tls.effectiveMode === 'prefer') {
    violations.push({
      code: 'PGW_POLICY_TLS_DISABLED',
      option: modeOrigin,
      message: `sslmode is "${tls.effectiveMode}" (${modeOrigin}): connections may be unencrypted.`,
      fix: 'Set sslmode=verify-full (DB_SSL=true, PGSSLMODE=verify-full or ?sslmode=verify-full) with the server CA in DB_SSL_CA.',
    });
  } else if (tls.effectiveMode === 'require') {
    violations.push({
      code: 'PGW_POLICY_CERT_VALIDATION_DISABLED',
      option: modeOrigin,
      message: `Certificate validation is off (sslmode "require" from ${modeOrigin}): anyone in the path can impersonate the server.`,
      fix: 'Remove DB_SSL_REJECT_UNAUTHORIZED=false and use sslmode=verify-full with the server CA in DB_SSL_CA.',
    });
  } else if (tls.effectiveMode === 'verify-ca') {
    violations.push({
      code: 'PGW_POLICY_TLS_NOT_VERIFY_FULL',
      option: modeOrigin,
      message: `sslmode "${tls.mode}" (${modeOrigin}) verifies the CA but not the host name.`,
      fix: 'Use sslmode=verify-full so the certificate must also name the host.',
    });
  }
  if (tls.effectiveMode !== 'disable' && (tls.minVersion === 'TLSv1' || tls.minVersion === 'TLSv1.1')) {
    violations.push({
      code: 'PGW_POLICY_TLS_MIN_VERSION',
      option: config.sources.sslMinVersion ?? 'sslMinVersion',
      message: `TLS versions below 1.2 are allowed (minimum ${tls.minVersion}).`,
      fix: 'Set sslMinVersion (PGSSLMINPROTOCOLVERSION) to TLSv1.2 or TLSv1.3.',
    });
  }

  const kind = passwordSourceKind(config);
  if (kind === 'dotenv') {
    violations.push({
      code: 'PGW_POLICY_PASSWORD_FROM_DOTENV',
      option: config.sources.password ?? 'password',
      message: 'The password was read from a .env file.',
      fix: 'Use a secrets backend (SECRETS_BACKEND=vault, aws-secrets-manager, file…) or platform-managed environment variables.',
    });
  }
  if (config.policy === 'strict' && (kind === 'plaintext-env' || kind === 'url-in-env')) {
    violations.push({
      code: kind === 'url-in-env' ? 'PGW_POLICY_PASSWORD_IN_URL' : 'PGW_POLICY_PASSWORD_PLAINTEXT_ENV',
      option: config.sources.password ?? 'password',
      message: `The password is a plaintext environment variable (${config.sources.password}), which the strict policy forbids.`,
      fix: 'Load it from a secrets backend (SECRETS_BACKEND=vault, aws-secrets-manager, rds-iam, keychain or file), or use DB_POLICY=standard.',
    });
  }
  if (config.policy === 'strict' && config.sources.storePassphrase) {
    violations.push({
      code: 'PGW_POLICY_PASSWORD_PLAINTEXT_ENV',
      option: config.sources.storePassphrase,
      message: `The passphrase of the encrypted credential store is a plaintext environment variable (${config.sources.storePassphrase}), which the strict policy forbids as it forbids the password there.`,
      fix: 'Give the passphrase as a 0600 file in PGWARDEN_STORE_PASSPHRASE_FILE (a mounted secret, systemd LoadCredential=) and unset PGWARDEN_STORE_PASSPHRASE, or use DB_POLICY=standard.',
    });
  }
  const weakness = passwordWeakness(config);
  if (weakness) {
    violations.push({
      code: 'PGW_POLICY_WEAK_PASSWORD',
      option: config.sources.password ?? 'password',
      message: `The database password is weak: ${weakness}.`,
      fix: `Rotate it to a random password of at least ${MIN_PASSWORD_LENGTH} characters (pgwarden creds generate).`,
    });
  }
  return violations;
}

function passwordWeakness(config: ResolvedConfig): string | undefined {
  if (!config.password) return undefined;
  const value = config.password.reveal();
  if (value.length < MIN_PASSWORD_LENGTH) return `it is shorter than ${MIN_PASSWORD_LENGTH} characters`;
  const lower = value.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) return 'it is a well-known or placeholder password';
  if (
    lower === config.user.toLowerCase() ||
    (lower.includes(config.user.toLowerCase()) && config.user.length >= 4)
  ) {
    return 'it contains the user name';
  }
  if (new Set(value).size < 5) return 'it repeats too few distinct characters';
  return undefined;
}

/** Role attributes read right after the first connect. */
export interface RoleFacts {
  readonly name: string;
  readonly superuser: boolean;
  readonly createRole: boolean;
  readonly createDb: boolean;
  readonly bypassRls: boolean;
  readonly replication: boolean;
}

export const ROLE_FACTS_SQL = `SELECT rolname AS name, rolsuper AS superuser, rolcreaterole AS "createRole",
  rolcreatedb AS "createDb", rolbypassrls AS "bypassRls", rolreplication AS replication
  FROM pg_roles WHERE rolname = current_user`;

export function evaluateRolePolicy(role: RoleFacts): PolicyViolation[] {
  const granted = [
    role.superuser && 'SUPERUSER',
    role.createRole && 'CREATEROLE',
    role.createDb && 'CREATEDB',
    role.bypassRls && 'BYPASSRLS',
    role.replication && 'REPLICATION',
  ].filter((x): x is string => typeof x === 'string');
  if (granted.length === 0) return [];
  return [
    {
      code: 'PGW_POLICY_PRIVILEGED_ROLE',
      option: 'user',
      message: `The application connects as role "${role.name}", which has ${granted.join(', ')}.`,
      fix: `Connect as a least-privilege login role (pgwarden roles apply) or: ALTER ROLE "${role.name.replace(/"/g, '""')}" ${granted.map((g) => `NO${g}`).join(' ')};`,
    },
  ];
}
