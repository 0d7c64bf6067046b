/**
 * The database side of a rotation: read a login role's state, set a new
 * SCRAM verifier (and VALID UNTIL), and put the old state back. Statements
 * are built with quoted identifiers and escaped literals (DDL takes no
 * parameters); the password itself never appears in them, only its verifier.
 */
import { escapeLiteral } from 'pg';
import type pg from 'pg';
import { PgwardenError } from '../errors.js';
import { classifyQueryError } from '../pool/classify-error.js';
import { Secret } from '../redact/secret.js';
import { scramSha256Verifier } from '../sql/scram-verifier.js';
import { quoteIdentifier } from '../sql/sql.js';
import { CredsError } from './creds-error.js';

/** What a role looked like before a rotation touched it. */
export interface RoleState {
  readonly name: string;
  readonly exists: boolean;
  readonly canLogin: boolean;
  readonly superuser: boolean;
  /** rolvaliduntil as text (`infinity`, a timestamp) or null. */
  readonly validUntil: string | null;
  /** The stored verifier, when the connected role may read pg_authid (superusers). */
  readonly verifier: Secret | undefined;
  readonly connectionLimit: number;
  /** `ALTER ROLE … SET` settings (`name=value`) for all databases. */
  readonly settings: readonly string[];
  /** NOLOGIN roles this role is a member of. */
  readonly groups: readonly string[];
}

/** What the connected role may do to other roles. */
export interface AdminFacts {
  readonly user: string;
  readonly superuser: boolean;
  readonly createRole: boolean;
  readonly canReadAuthid: boolean;
}

export async function adminFacts(client: pg.ClientBase): Promise<AdminFacts> {
  const { rows } = await client.query<{
    user: string;
    superuser: boolean;
    createrole: boolean;
    authid: boolean;
  }>(
    `SELECT current_user AS user, r.rolsuper AS superuser, r.rolcreaterole AS createrole,
            has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS authid
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const row = rows[0];
  return {
    user: row?.user ?? '',
    superuser: row?.superuser ?? false,
    createRole: row?.createrole ?? false,
    canReadAuthid: row?.authid ?? false,
  };
}

export async function readRoleState(
  client: pg.ClientBase,
  name: string,
  facts: AdminFacts,
): Promise<RoleState> {
  const { rows } = await client.query<{
    rolcanlogin: boolean;
    rolsuper: boolean;
    validuntil: string | null;
    rolconnlimit: number;
    settings: string[] | null;
    groups: string[];
  }>(
    `SELECT r.rolcanlogin, r.rolsuper, r.rolvaliduntil::text AS validuntil, r.rolconnlimit,
            (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0) AS settings,
            ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                   WHERE m.member = r.oid AND NOT g.rolcanlogin ORDER BY g.rolname)::text[] AS groups
       FROM pg_roles r WHERE r.rolname = $1`,
    [name],
  );
  const row = rows[0];
  if (!row) {
    return {
      name,
      exists: false,
      canLogin: false,
      superuser: false,
      validUntil: null,
      verifier: undefined,
      connectionLimit: -1,
      settings: [],
      groups: [],
    };
  }
  let verifier: Secret | undefined;
  if (facts.canReadAuthid) {
    const authid = await client.query<{ rolpassword: string | null }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [name],
    );
    const value = authid.rows[0]?.rolpassword;
    if (value) verifier = new Secret(value);
  }
  return {
    name,
    exists: true,
    canLogin: row.rolcanlogin,
    superuser: row.rolsuper,
    validUntil: row.validuntil,
    verifier,
    connectionLimit: row.rolconnlimit,
    settings: row.settings ?? [],
    groups: row.groups,
  };
}

/** `ALTER ROLE "name" PASSWORD '<verifier>' [VALID UNTIL '…']`. */
export function alterPasswordSql(
  name: string,
  verifier: string,
  validUntil: Date | string | undefined,
): string {
  const until =
    validUntil === undefined
      ? ''
      : ` VALID UNTIL ${escapeLiteral(validUntil instanceof Date ? validUntil.toISOString() : validUntil)}`;
  return `ALTER ROLE ${quoteIdentifier(name)} PASSWORD ${escapeLiteral(verifier)}${until}`;
}

/** The verifier of `password` for this server. */
export function verifierFor(password: Secret, iterations: number): string {
  return scramSha256Verifier(password, iterations);
}

/** Runs one statement, turning a permission failure into `PGW_ROLE_INSUFFICIENT_PRIVILEGE`. */
export async function runDdl(client: pg.ClientBase, text: string, what: string): Promise<void> {
  try {
    await client.query(text);
  } catch (error) {
    throw ddlError(error, what);
  }
}

export function ddlError(error: unknown, what: string): PgwardenError {
  if (error instanceof PgwardenError) return error;
  const coded = classifyQueryError(error);
  if ((error as { code?: unknown }).code === '42501') {
    return new CredsError('PGW_ROLE_INSUFFICIENT_PRIVILEGE', `The connected role may not ${what}.`, {
      option: '--url',
      fix: 'Connect as a role with CREATEROLE (pass its URL with --url, or a stored admin environment with --admin-env).',
      cause: coded,
    });
  }
  return coded;
}

/**
 * Puts a role's password back (the exact old verifier when it could be read,
 * else one computed from the old password), and its VALID UNTIL when the
 * rotation changed it: a role rotating itself may not touch VALID UNTIL.
 */
export async function restorePassword(
  client: pg.ClientBase,
  state: RoleState,
  oldPassword: Secret | undefined,
  iterations: number,
  restoreValidUntil: boolean,
): Promise<'verifier' | 'password' | 'none'> {
  const verifier =
    state.verifier?.reveal() ?? (oldPassword ? verifierFor(oldPassword, iterations) : undefined);
  const until = restoreValidUntil ? (state.validUntil ?? 'infinity') : undefined;
  if (verifier === undefined) {
    if (until !== undefined)
      await client.query(`ALTER ROLE ${quoteIdentifier(state.name)} VALID UNTIL ${escapeLiteral(until)}`);
    return 'none';
  }
  await client.query(alterPasswordSql(state.name, verifier, until));
  return state.verifier ? 'verifier' : 'password';
}
