/**
 * The alternating-users scheme (as AWS Secrets Manager's): two login roles,
 * `<user>` and `<user>_clone`, both members of one NOLOGIN group role that
 * holds every grant. A rotation changes the password of the role NOT in use
 * and then points the store at it, so connections opened with the previous
 * credentials keep working until the next rotation.
 */
import { escapeLiteral } from 'pg';
import type pg from 'pg';
import { quoteIdentifier } from '../sql/sql.js';
import { CredsError } from './creds-error.js';
import type { CredentialEnvironment } from './environment.js';
import type { RoleState } from './role-password.js';

export const CLONE_SUFFIX = '_clone';

export interface AlternatingPlan {
  /** `<user>`. */
  readonly base: string;
  /** `<user>_clone`. */
  readonly clone: string;
  /** The role that will be rotated and switched to. */
  readonly inactive: string;
  readonly group: string;
}

export async function planAlternating(
  client: pg.ClientBase,
  environment: CredentialEnvironment,
  activeUser: string,
  groupOption: string | undefined,
): Promise<AlternatingPlan> {
  const base = environment.baseUser ?? activeUser;
  const clone = `${base}${CLONE_SUFFIX}`;
  if (Buffer.byteLength(clone) > 63) {
    throw new CredsError(
      'PGW_CREDS_INVALID',
      `"${clone}" would be longer than PostgreSQL's 63-byte role names.`,
      {
        option: '--strategy',
        fix: 'Use a shorter user name for the alternating strategy.',
      },
    );
  }
  if (activeUser !== base && activeUser !== clone) {
    throw new CredsError(
      'PGW_CREDS_INVALID',
      `The stored user "${activeUser}" is neither "${base}" nor "${clone}".`,
      {
        option: '--user',
        fix: `Set the user back with pgwarden creds update ${environment.name} --user ${base}.`,
      },
    );
  }
  const inactive = activeUser === base ? clone : base;
  const group =
    groupOption ?? environment.groupRole ?? (await onlyGroupOf(client, activeUser, environment.name));
  const { rows } = await client.query<{ rolcanlogin: boolean }>(
    'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
    [group],
  );
  const row = rows[0];
  if (!row) {
    throw new CredsError('PGW_ROLE_NOT_FOUND', `The group role "${group}" does not exist.`, {
      option: '--group',
      fix: `Create it (CREATE ROLE ... NOLOGIN, or pgwarden roles apply) and grant it the privileges "${base}" needs.`,
    });
  }
  if (row.rolcanlogin) {
    throw new CredsError('PGW_CREDS_INVALID', `The group role "${group}" can log in; it must be NOLOGIN.`, {
      option: '--group',
      fix: `ALTER ROLE ${quoteIdentifier(group)} NOLOGIN, or name the NOLOGIN role that holds the grants with --group.`,
    });
  }
  return { base, clone, inactive, group };
}

async function onlyGroupOf(client: pg.ClientBase, user: string, environment: string): Promise<string> {
  const { rows } = await client.query<{ rolname: string }>(
    `SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
      WHERE u.rolname = $1 AND NOT g.rolcanlogin AND g.rolname NOT LIKE 'pg\\_%' ORDER BY 1`,
    [user],
  );
  const only = rows.length === 1 ? rows[0]?.rolname : undefined;
  if (only) return only;
  throw new CredsError(
    'PGW_CREDS_INVALID',
    rows.length === 0
      ? `"${user}" is a member of no NOLOGIN group role, so there is nothing to share grants with a clone.`
      : `"${user}" is a member of several NOLOGIN roles (${rows.map((r) => r.rolname).join(', ')}).`,
    {
      option: '--group',
      fix: `Name the group role that holds the grants: pgwarden creds rotate ${environment} --strategy alternating --group <role>`,
    },
  );
}

function settingSql(role: string, setting: string): string {
  const at = setting.indexOf('=');
  const name = setting.slice(0, at).split('.').map(quoteIdentifier).join('.');
  return `ALTER ROLE ${quoteIdentifier(role)} SET ${name} = ${escapeLiteral(setting.slice(at + 1))}`;
}

export const cloneRoleSql = {
  /** The clone: LOGIN, the new verifier, the active role's connection limit and settings, member of the group. */
  create(
    name: string,
    group: string,
    verifier: string,
    validUntil: Date | undefined,
    like: RoleState,
  ): string[] {
    const until = validUntil ? ` VALID UNTIL ${escapeLiteral(validUntil.toISOString())}` : '';
    return [
      `CREATE ROLE ${quoteIdentifier(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ` +
        `CONNECTION LIMIT ${Number(like.connectionLimit)} PASSWORD ${escapeLiteral(verifier)}${until} IN ROLE ${quoteIdentifier(group)}`,
      ...like.settings.filter((s) => s.includes('=')).map((s) => settingSql(name, s)),
    ];
  },
  grant: (group: string, member: string) => `GRANT ${quoteIdentifier(group)} TO ${quoteIdentifier(member)}`,
  drop: (name: string) => `DROP ROLE IF EXISTS ${quoteIdentifier(name)}`,
};
