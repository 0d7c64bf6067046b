/**
 * `pgwarden roles apply`: the plan, recomputed and executed inside ONE
 * transaction (under an advisory lock, so two applies cannot interleave).
 * Passwords of new login roles come from the creds store or are generated;
 * either way only their SCRAM verifier reaches the server. Generated
 * passwords are stored before COMMIT, and removed again if COMMIT fails, so
 * the store and the database never disagree.
 */

import { escapeLiteral } from 'pg';
import { PgwardenError } from '../errors.js';
import { classifyQueryError } from '../pool/classify-error.js';
import type { WardenPool } from '../pool/pool.js';
import type { Secret } from '../redact/secret.js';
import { scramSha256Verifier, serverScramIterations } from '../sql/scram-verifier.js';
import { generatePassword } from '../creds/generate.js';
import { DEFAULT_EXPIRES_DAYS, type StoreKind } from '../creds/environment.js';
import type { CredentialStore } from '../creds/store.js';
import { quoteIdentifier } from '../sql/sql.js';
import { planRoles, type PlannedStatement, type RolesPlan } from './plan.js';
import { RolesError } from './roles-error.js';
import type { RolesFile } from './roles-file.js';

export interface ApplyOptions {
  /** Where login passwords come from and generated ones go. Needed only when the file has `password:` entries. */
  store?: CredentialStore | (() => CredentialStore);
  /** Where a generated first password is kept: the OS keychain or the encrypted file. Default `keychain`. */
  storeKind?: StoreKind;
  /** Days until a generated first password expires (its VALID UNTIL and the creds expiry). Default 90. */
  expiresDays?: number;
}

export interface ApplyReport extends RolesPlan {
  /** The statements executed (as displayed: no verifiers). Empty when nothing differed. */
  readonly applied: readonly string[];
  /** Creds environments created with generated passwords. */
  readonly storedCredentials: readonly string[];
}

/** Runs the plan in one transaction; a second apply of the same file reports no changes. */
export async function applyRoles(
  pool: WardenPool,
  file: RolesFile,
  options: ApplyOptions = {},
): Promise<ApplyReport> {
  let store: CredentialStore | undefined;
  const getStore = (): CredentialStore => {
    if (!options.store) {
      throw new RolesError(
        'PGW_ROLES_APPLY_FAILED',
        'The roles file asks for passwords but no credential store was given.',
        {
          option: 'store',
          fix: 'Pass a CredentialStore (the CLI uses the default one).',
        },
      );
    }
    return (store ??= typeof options.store === 'function' ? options.store() : options.store);
  };
  const client = await pool.connect();
  const stored: string[] = [];
  let failed: PlannedStatement | undefined;
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('pgwarden roles apply'))`);
    const plan = await planRoles(client, file, {
      hasCredentials: async (env) => (options.store ? getStore().has(env) : true),
    });
    const iterations = plan.statements.some((s) => s.password) ? await serverScramIterations(client) : 0;
    const generated: Generated[] = [];
    const applied: string[] = [];
    for (const statement of plan.statements) {
      let text = statement.sql;
      let expiry: Date | 'never' | undefined;
      if (statement.password) {
        const { role, creds } = statement.password;
        const password = await loginPassword(getStore(), creds, role, file, options, generated);
        text = statement.password.render(scramSha256Verifier(password.secret, iterations));
        expiry = password.validUntil;
      }
      failed = statement;
      await client.query(text);
      applied.push(statement.sql);
      if (statement.password && expiry instanceof Date) {
        // The role's expiry, when the file sets none: the password's, so the
        // server refuses it on the day `creds check` calls it expired.
        const until = `ALTER ROLE ${quoteIdentifier(statement.password.role)} VALID UNTIL ${escapeLiteral(expiry.toISOString())}`;
        failed = { sql: until, reason: `login ${statement.password.role}: password expiry` };
        await client.query(until);
        applied.push(until);
      }
      failed = undefined;
    }
    for (const g of generated) {
      await getStore().add(
        g.env,
        {
          host: pool.config.host,
          port: pool.config.port,
          database: plan.database,
          user: g.role,
          ...(pool.config.tls.mode !== 'prefer' ? { sslMode: pool.config.tls.mode } : {}),
          ...(pool.config.tls.rootCert?.origin === 'file'
            ? { sslRootCert: pool.config.tls.rootCert.path }
            : {}),
        },
        {
          password: g.password,
          store: options.storeKind ?? 'keychain',
          ...(g.expiresAt ? { expiresAt: g.expiresAt } : { expiresDays: g.expiresDays }),
        },
      );
      stored.push(g.env);
    }
    await client.query('COMMIT');
    client.release();
    return { ...plan, applied, storedCredentials: stored };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    for (const env of stored)
      await getStore()
        .remove(env)
        .catch(() => undefined);
    if (error instanceof PgwardenError && !failed) throw error;
    const coded = error instanceof PgwardenError ? error : classifyQueryError(error);
    throw new RolesError(
      'PGW_ROLES_APPLY_FAILED',
      `Applying the roles file failed${failed ? ` at: ${failed.sql}` : ''} (${coded.message}); the transaction was rolled back and nothing changed.`,
      {
        option: '--file',
        fix:
          (error as { code?: unknown }).code === '42501'
            ? 'Apply as a role with the needed privileges (a superuser, or CREATEROLE and ownership of the objects).'
            : 'See the cause, fix the file or the database, and apply again.',
        cause: coded,
      },
    );
  }
}

interface Generated {
  env: string;
  role: string;
  password: Secret;
  /** The creds expiry: a fixed date (the file's valid_until) or a period. */
  expiresAt: Date | undefined;
  expiresDays: number;
}

/**
 * The stored password of `env`, or a new one to be stored after the
 * statements ran; with the VALID UNTIL the role needs besides the file's
 * own (`undefined` when the file sets one, or when there is no expiry).
 */
async function loginPassword(
  store: CredentialStore,
  env: string,
  role: string,
  file: RolesFile,
  options: ApplyOptions,
  generated: Generated[],
): Promise<{ secret: Secret; validUntil: Date | undefined }> {
  const fileUntil = file.logins[role]?.valid_until;
  if (await store.has(env)) {
    const environment = await store.get(env);
    if (environment.user !== undefined && environment.user !== role) {
      throw new RolesError(
        'PGW_ROLES_FILE_INVALID',
        `Creds environment "${env}" is for user "${environment.user}", not "${role}".`,
        {
          option: `logins.${role}.password.creds`,
          fix: `Name a creds environment whose user is ${role}, or a new one (a password is then generated).`,
        },
      );
    }
    return {
      secret: await store.password(env),
      validUntil: fileUntil === undefined ? environment.expiresAt : undefined,
    };
  }
  const password = generatePassword();
  const days = options.expiresDays ?? DEFAULT_EXPIRES_DAYS;
  const fixed = fileUntil !== undefined && fileUntil !== 'infinity' ? new Date(fileUntil) : undefined;
  const validUntil =
    fileUntil === undefined && days > 0 ? new Date(store.now().getTime() + days * 86_400_000) : undefined;
  // One instant for the server's VALID UNTIL and the stored expiry.
  generated.push({
    env,
    role,
    password,
    expiresAt: fixed ?? validUntil,
    expiresDays: fileUntil === 'infinity' ? 0 : days,
  });
  return { secret: password, validUntil };
}
