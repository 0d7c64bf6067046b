/**
 * `pgwarden roles apply`: the plan, recomputed and executed inside ONE
 * transaction (under an advisory lock, so two applies cannot interleave).
 * Passwords of new login roles come from the creds store or are generated;
 * either way only their SCRAM verifier reaches the server. Generated
 * passwords are stored before COMMIT, and removed again if COMMIT fails, so
 * the store and the database never disagree.
 */

import { PgwardenError } from '../errors.js';
import { classifyQueryError } from '../pool/classify-error.js';
import type { WardenPool } from '../pool/pool.js';
import type { Secret } from '../redact/secret.js';
import { scramSha256Verifier, serverScramIterations } from '../sql/scram-verifier.js';
import { generatePassword } from '../creds/generate.js';
import type { CredentialStore } from '../creds/store.js';
import { planRoles, type PlannedStatement, type RolesPlan } from './plan.js';
import { RolesError } from './roles-error.js';
import type { RolesFile } from './roles-file.js';

export interface ApplyOptions {
  /** Where login passwords come from and generated ones go. Needed only when the file has `password:` entries. */
  store?: CredentialStore | (() => CredentialStore);
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
    const generated: Array<{ env: string; role: string; password: Secret }> = [];
    for (const statement of plan.statements) {
      let text = statement.sql;
      if (statement.password) {
        const password = await loginPassword(
          getStore(),
          statement.password.creds,
          statement.password.role,
          generated,
        );
        text = statement.password.render(scramSha256Verifier(password, iterations));
      }
      failed = statement;
      await client.query(text);
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
        { password: g.password },
      );
      stored.push(g.env);
    }
    await client.query('COMMIT');
    client.release();
    return { ...plan, applied: plan.statements.map((s) => s.sql), storedCredentials: stored };
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

/** The stored password of `env`, or a new one to be stored after the statements ran. */
async function loginPassword(
  store: CredentialStore,
  env: string,
  role: string,
  generated: Array<{ env: string; role: string; password: Secret }>,
): Promise<Secret> {
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
    return store.password(env);
  }
  const password = generatePassword();
  generated.push({ env, role, password });
  return password;
}
