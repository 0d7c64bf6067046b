/**
 * `pgwarden incident revoke <role>`: lock a compromised role out at once.
 *
 * In one transaction: NOLOGIN, VALID UNTIL now (and, with `rotate`, a new
 * random password sent as a SCRAM verifier), REVOKE CONNECT on every database
 * where the role holds it directly. After COMMIT, so nothing can log back in:
 * terminate the role's backends. Then report what the role still holds
 * (memberships, privileges, owned objects), because revoking does not undo
 * what the role was granted and an attacker may have granted itself more.
 */
import { escapeLiteral } from 'pg';
import type pg from 'pg';
import { PgwardenError } from '../errors.js';
import { classifyQueryError } from '../pool/classify-error.js';
import type { WardenPool } from '../pool/pool.js';
import { scramSha256Verifier, serverScramIterations } from '../sql/scram-verifier.js';
import { quoteIdentifier as q } from '../sql/sql.js';
import { generatePassword } from '../creds/generate.js';
import type { CredentialStore } from '../creds/store.js';
import { IncidentError } from './incident-error.js';

export interface RevokeOptions {
  /** Also replace the password with a random one (only its verifier is sent). Default false. */
  rotate?: boolean;
  /** With `rotate`: store the new password in this creds environment (its user must be the role). */
  store?: CredentialStore;
  credsEnvironment?: string;
  /** How long to wait for each backend to exit (PostgreSQL 14+). Default 5000 ms. */
  terminateTimeoutMs?: number;
}

export interface StillHeld {
  /** Roles it is a member of (their privileges remain reachable with SET ROLE once it can log in again). */
  readonly memberOf: readonly string[];
  /** Direct privileges on databases, e.g. `app: CREATE, TEMPORARY`. */
  readonly databases: readonly string[];
  /** Direct privileges on schemas of the connected database. */
  readonly schemas: readonly string[];
  /** Direct privileges on tables, views and sequences of the connected database. */
  readonly relations: readonly string[];
  /** Databases, schemas and relations it owns (in the connected database). */
  readonly owns: readonly string[];
  /** Databases where PUBLIC still has CONNECT (harmless while the role is NOLOGIN). */
  readonly publicConnect: readonly string[];
}

export interface RevokeReport {
  readonly role: string;
  readonly loginDisabled: true;
  readonly validUntil: string;
  readonly connectRevokedOn: readonly string[];
  readonly sessionsTerminated: number;
  /** Backends that could not be terminated (pid and why). */
  readonly sessionsRemaining: ReadonlyArray<{ pid: number; reason: string }>;
  readonly passwordRotated: boolean;
  /** The creds environment that now holds the new password, when one was given. */
  readonly storedIn: string | undefined;
  readonly stillHeld: StillHeld;
  readonly warnings: readonly string[];
}

export async function revokeRole(
  pool: WardenPool,
  role: string,
  options: RevokeOptions = {},
): Promise<RevokeReport> {
  const client = await pool.connect();
  const warnings: string[] = [];
  try {
    const me = (
      await client.query<{ user: string; superuser: boolean; createrole: boolean; version: number }>(
        `SELECT current_user AS user, rolsuper AS superuser, rolcreaterole AS createrole,
                current_setting('server_version_num')::int AS version
           FROM pg_roles WHERE rolname = current_user`,
      )
    ).rows[0];
    const target = (
      await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [role])
    ).rows[0];
    if (!target) {
      throw new IncidentError('PGW_ROLE_NOT_FOUND', `The role "${role}" does not exist.`, {
        option: '<role>',
        fix: 'Check the name with pgwarden incident sessions, or \\du in psql.',
      });
    }
    if (me?.user === role) {
      throw new IncidentError(
        'PGW_INCIDENT_REFUSED',
        `Refusing to revoke "${role}", the role this command is connected as.`,
        {
          option: '--url',
          fix: 'Connect as another administrator role and run the command again.',
        },
      );
    }
    if (!me?.superuser && !(me?.createrole && !target.rolsuper)) {
      throw new IncidentError(
        'PGW_ROLE_INSUFFICIENT_PRIVILEGE',
        `"${me?.user ?? '?'}" may not alter the role "${role}".`,
        {
          option: '--url',
          fix: target.rolsuper
            ? 'Revoking a superuser needs a superuser connection.'
            : 'Connect as a role with CREATEROLE (or a superuser).',
        },
      );
    }
    if (options.rotate && options.credsEnvironment && options.store) {
      const env = await options.store.get(options.credsEnvironment);
      if (env.user !== undefined && env.user !== role) {
        throw new IncidentError(
          'PGW_INCIDENT_REFUSED',
          `Creds environment "${env.name}" is for "${env.user}", not "${role}".`,
          {
            option: '--creds-env',
            fix: `Name the creds environment of ${role}, or leave --creds-env out.`,
          },
        );
      }
    }

    // 1. Lock out, in one transaction.
    const password = options.rotate ? generatePassword() : undefined;
    const connectRevokedOn: string[] = [];
    let validUntil = '';
    try {
      await client.query('BEGIN');
      const verifier = password
        ? ` PASSWORD ${escapeLiteral(scramSha256Verifier(password, await serverScramIterations(client)))}`
        : '';
      await client.query(`ALTER ROLE ${q(role)} NOLOGIN VALID UNTIL 'now'${verifier}`);
      const dbs = await client.query<{ datname: string }>(
        `SELECT d.datname FROM pg_database d
          WHERE EXISTS (SELECT 1 FROM aclexplode(d.datacl) a
                         WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) AND a.privilege_type = 'CONNECT')
          ORDER BY 1`,
        [role],
      );
      for (const { datname } of dbs.rows) {
        await client.query(`REVOKE CONNECT ON DATABASE ${q(datname)} FROM ${q(role)}`);
        connectRevokedOn.push(datname);
      }
      validUntil =
        (
          await client.query<{ v: string }>(
            `SELECT to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS v FROM pg_roles WHERE rolname = $1`,
            [role],
          )
        ).rows[0]?.v ?? '';
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw asIncidentError(error, `lock out "${role}"`);
    }

    // 2. Only now terminate: a terminated client that reconnects meets NOLOGIN.
    const timeout = options.terminateTimeoutMs ?? 5_000;
    const terminate =
      me.version >= 140000 ? `pg_terminate_backend(pid, ${Number(timeout)})` : 'pg_terminate_backend(pid)';
    const sessions = await client
      .query<{ pid: number; done: boolean | null; error: string | null }>(
        `SELECT pid, ${terminate} AS done, NULL::text AS error
         FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [role],
      )
      .catch(async (error: unknown) => {
        // A backend we may not signal (42501) aborts the whole statement: go one by one.
        if ((error as { code?: unknown }).code !== '42501') throw error;
        return terminateOneByOne(client, role, terminate);
      });
    const sessionsRemaining = sessions.rows
      .filter((s) => !s.done)
      .map((s) => ({ pid: s.pid, reason: s.error ?? 'did not exit in time' }));
    const sessionsTerminated = sessions.rows.length - sessionsRemaining.length;
    if (sessionsRemaining.length)
      warnings.push(`${sessionsRemaining.length} session(s) of ${role} are still open`);

    // 3. Keep the new password where the team can find it (or let it be forgotten).
    let storedIn: string | undefined;
    if (password && options.store && options.credsEnvironment) {
      try {
        await options.store.recordRotation(options.credsEnvironment, { password });
        storedIn = options.credsEnvironment;
      } catch (error) {
        warnings.push(
          `the new password could not be stored in "${options.credsEnvironment}" (${error instanceof PgwardenError ? error.code : 'error'}); the role stays locked, set a new password when re-enabling it`,
        );
      }
    } else if (password) {
      warnings.push('the new password was not stored anywhere: set a new one when re-enabling the role');
    }

    return {
      role,
      loginDisabled: true,
      validUntil,
      connectRevokedOn,
      sessionsTerminated,
      sessionsRemaining,
      passwordRotated: password !== undefined,
      storedIn,
      stillHeld: await stillHeld(client, role),
      warnings,
    };
  } finally {
    client.release();
  }
}

async function terminateOneByOne(
  client: pg.PoolClient,
  role: string,
  terminate: string,
): Promise<{ rows: Array<{ pid: number; done: boolean | null; error: string | null }> }> {
  const pids = await client.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
    [role],
  );
  const rows: Array<{ pid: number; done: boolean | null; error: string | null }> = [];
  for (const { pid } of pids.rows) {
    try {
      const r = await client.query<{ done: boolean }>(
        `SELECT ${terminate.replace('(pid', '($1::int')} AS done`,
        [pid],
      );
      rows.push({ pid, done: r.rows[0]?.done ?? false, error: null });
    } catch (error) {
      rows.push({ pid, done: false, error: classifyQueryError(error).message });
    }
  }
  return { rows };
}

/** What the role can still reach once someone lets it log in again. */
async function stillHeld(client: pg.PoolClient, role: string): Promise<StillHeld> {
  const { rows } = await client.query<StillHeld>(
    `WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
     SELECT
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
              WHERE m.member = (SELECT oid FROM r) ORDER BY 1)::text[] AS "memberOf",
       ARRAY(SELECT d.datname || ': ' || string_agg(DISTINCT a.privilege_type, ', ')
               FROM pg_database d, aclexplode(d.datacl) a
              WHERE a.grantee = (SELECT oid FROM r) GROUP BY d.datname ORDER BY d.datname)::text[] AS databases,
       ARRAY(SELECT n.nspname || ': ' || string_agg(DISTINCT a.privilege_type, ', ')
               FROM pg_namespace n, aclexplode(n.nspacl) a
              WHERE a.grantee = (SELECT oid FROM r) GROUP BY n.nspname ORDER BY n.nspname)::text[] AS schemas,
       ARRAY(SELECT x.name FROM (
               SELECT n.nspname || '.' || c.relname || ': ' || string_agg(DISTINCT a.privilege_type, ', ') AS name
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
                WHERE a.grantee = (SELECT oid FROM r) GROUP BY n.nspname, c.relname ORDER BY 1 LIMIT 200) x)::text[] AS relations,
       ARRAY(SELECT x.name FROM (
               SELECT 'database ' || datname AS name FROM pg_database WHERE datdba = (SELECT oid FROM r)
               UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = (SELECT oid FROM r)
               UNION ALL (SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c
                            JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relowner = (SELECT oid FROM r) AND c.relkind IN ('r','p','v','m','f','S')
                           ORDER BY 1 LIMIT 200)) x)::text[] AS owns,
       ARRAY(SELECT d.datname FROM pg_database d
              WHERE d.datallowconn AND EXISTS (SELECT 1 FROM aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
                                                WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT')
              ORDER BY 1)::text[] AS "publicConnect"`,
    [role],
  );
  return rows[0] as StillHeld;
}

function asIncidentError(error: unknown, what: string): PgwardenError {
  if (error instanceof PgwardenError) return error;
  const coded = classifyQueryError(error);
  if ((error as { code?: unknown }).code === '42501') {
    return new IncidentError('PGW_ROLE_INSUFFICIENT_PRIVILEGE', `The connected role may not ${what}.`, {
      option: '--url',
      fix: 'Connect as a superuser, or a role with CREATEROLE that may administer this role.',
      cause: coded,
    });
  }
  return coded;
}
