/**
 * Roles: the application's own role (what it is and owns) and the roles of
 * the cluster (superusers, dangerous attributes and memberships, limits,
 * password validity).
 */
import { cis, defineArea, fail, pass, pgDocs, skip } from '../check.js';
import type { FindingObject } from '../finding.js';
import { ident } from '../sql-text.js';

export interface RoleRow {
  readonly name: string;
  readonly superuser: boolean;
  readonly login: boolean;
  readonly createrole: boolean;
  readonly createdb: boolean;
  readonly bypassrls: boolean;
  readonly replication: boolean;
  readonly connlimit: number;
  /** ISO timestamp, `infinity`, or null. */
  readonly validUntil: string | null;
}

export interface RolesFacts {
  readonly current: string;
  readonly roles: readonly RoleRow[];
  readonly memberOfSuperuser: readonly { role: string; superuser: string }[];
  readonly dangerous: readonly { role: string; predefined: string }[];
  /** Objects the connecting role owns in this database (first 50), and databases it owns. */
  readonly owned: readonly { kind: string; name: string }[];
  /** Login roles and the kind of password they have; undefined without pg_authid. */
  readonly passwords: readonly { name: string; kind: 'none' | 'md5' | 'scram' | 'other' }[] | undefined;
}

export const DANGEROUS_PREDEFINED = [
  'pg_execute_server_program',
  'pg_read_server_files',
  'pg_write_server_files',
  'pg_read_all_data',
  'pg_write_all_data',
] as const;

const SYSTEM_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`;

/** Password kinds, never the hashes. Shared with the passwords area. */
export const PASSWORD_KINDS_SQL = `(SELECT coalesce(json_agg(json_build_object('name', rolname, 'kind',
    CASE WHEN rolpassword IS NULL THEN 'none' WHEN rolpassword LIKE 'md5%' THEN 'md5'
         WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram' ELSE 'other' END) ORDER BY rolname), '[]'::json)
  FROM pg_catalog.pg_authid WHERE rolcanlogin AND rolname !~ '^pg_')`;

function rolesSql(withPasswords: boolean): string {
  const me = `(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)`;
  return `SELECT json_build_object(
  'current', current_user,
  'roles', (SELECT coalesce(json_agg(json_build_object('name', rolname, 'superuser', rolsuper, 'login', rolcanlogin,
      'createrole', rolcreaterole, 'createdb', rolcreatedb, 'bypassrls', rolbypassrls, 'replication', rolreplication,
      'connlimit', rolconnlimit, 'validUntil', rolvaliduntil) ORDER BY rolname), '[]'::json)
    FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_'),
  'memberOfSuperuser', (SELECT coalesce(json_agg(json_build_object('role', r.rolname, 'superuser', s.rolname) ORDER BY r.rolname, s.rolname), '[]'::json)
    FROM pg_catalog.pg_roles r JOIN pg_catalog.pg_roles s ON s.rolsuper AND s.oid <> r.oid
    WHERE NOT r.rolsuper AND r.rolname !~ '^pg_' AND pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
  'dangerous', (SELECT coalesce(json_agg(json_build_object('role', r.rolname, 'predefined', d.rolname) ORDER BY r.rolname, d.rolname), '[]'::json)
    FROM pg_catalog.pg_roles d JOIN pg_catalog.pg_roles r ON NOT r.rolsuper AND r.rolname !~ '^pg_'
    WHERE d.rolname IN (${DANGEROUS_PREDEFINED.map((d) => `'${d}'`).join(', ')}) AND pg_catalog.pg_has_role(r.oid, d.oid, 'MEMBER')),
  'owned', (SELECT coalesce(json_agg(o ORDER BY o.kind, o.name), '[]'::json) FROM (
      SELECT 'database' AS kind, datname::text AS name FROM pg_catalog.pg_database WHERE datdba = ${me}
      UNION ALL SELECT 'schema', n.nspname::text FROM pg_catalog.pg_namespace n WHERE n.nspowner = ${me} AND ${SYSTEM_SCHEMA}
      UNION ALL SELECT 'relation', n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relowner = ${me} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${SYSTEM_SCHEMA}
      UNION ALL SELECT 'function', p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proowner = ${me} AND ${SYSTEM_SCHEMA}
      LIMIT 50) o)${withPasswords ? `,\n  'passwords', ${PASSWORD_KINDS_SQL}` : ''}
) AS facts`;
}

const roleObject = (name: string, value?: string): FindingObject =>
  value === undefined ? { type: 'role', name } : { type: 'role', name, value };

function attributes(role: RoleRow): string[] {
  return [
    role.createrole && 'CREATEROLE',
    role.createdb && 'CREATEDB',
    role.bypassrls && 'BYPASSRLS',
    role.replication && 'REPLICATION',
  ].filter((a): a is string => typeof a === 'string');
}

const ADMIN = [cis('4.3', 'excessive administrative privileges')];

export const rolesArea = defineArea<RolesFacts>({
  area: 'roles',
  needsConnection: true,
  async gather({ session }) {
    const rows = await session!.query<{ facts: RolesFacts }>(rolesSql(session!.privileges.authid));
    return rows[0]!.facts;
  },
  checks: [
    {
      id: 'role.app-superuser',
      severity: 'critical',
      title: 'The application role is not a superuser',
      rationale:
        'A superuser bypasses every permission and RLS policy and can run programs on the server: one SQL injection owns the host.',
      remediation:
        'ALTER ROLE app NOSUPERUSER;  -- after granting it the privileges it needs (pgwarden roles apply)',
      cis: ADMIN,
      references: [pgDocs('role-attributes.html')],
      evaluate(facts) {
        const me = facts.roles.find((r) => r.name === facts.current);
        if (!me) return skip(`Role ${facts.current} is not in pg_roles.`);
        if (!me.superuser) return pass(`${me.name} is not a superuser.`);
        return fail(
          `The application connects as ${me.name}, a superuser.`,
          [roleObject(me.name, 'SUPERUSER')],
          {
            remediation: `ALTER ROLE ${ident(me.name)} NOSUPERUSER;`,
          },
        );
      },
    },
    {
      id: 'role.app-privileged',
      severity: 'high',
      title: 'The application role has no administrative attributes',
      rationale:
        'CREATEROLE, CREATEDB, BYPASSRLS and REPLICATION let a compromised application create roles, databases, read around RLS or stream the whole cluster.',
      remediation: 'ALTER ROLE app NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION;',
      cis: ADMIN,
      references: [pgDocs('role-attributes.html')],
      evaluate(facts) {
        const me = facts.roles.find((r) => r.name === facts.current);
        if (!me) return skip(`Role ${facts.current} is not in pg_roles.`);
        const held = attributes(me);
        if (held.length === 0)
          return pass(`${me.name} has none of CREATEROLE, CREATEDB, BYPASSRLS, REPLICATION.`);
        return fail(
          `The application role ${me.name} has ${held.join(', ')}.`,
          [roleObject(me.name, held.join(' '))],
          {
            remediation: `ALTER ROLE ${ident(me.name)} ${held.map((a) => `NO${a}`).join(' ')};`,
          },
        );
      },
    },
    {
      id: 'role.app-owns-objects',
      severity: 'medium',
      title: 'The application role owns no objects',
      rationale:
        'An owner can ALTER or DROP its objects, disable their RLS and grant them away; the application needs only DML privileges.',
      remediation:
        'ALTER TABLE ... OWNER TO app_owner;  -- a NOLOGIN owner role; grant the application only what it uses',
      cis: [cis('4.6', 'excessive DML privileges')],
      references: [pgDocs('ddl-priv.html')],
      evaluate(facts) {
        if (facts.owned.length === 0)
          return pass(`${facts.current} owns no schema, relation, function or database here.`);
        return fail(
          `${facts.current} owns ${facts.owned.length}${facts.owned.length >= 50 ? '+' : ''} object(s): ${facts.owned
            .slice(0, 10)
            .map((o) => `${o.kind} ${o.name}`)
            .join(', ')}${facts.owned.length > 10 ? ', …' : ''}.`,
          facts.owned.map((o) => ({ type: o.kind, name: o.name, value: `owner ${facts.current}` })),
          {
            remediation: `CREATE ROLE app_owner NOLOGIN; REASSIGN OWNED BY ${ident(facts.current)} TO app_owner;  -- in each database, then GRANT the application what it uses`,
          },
        );
      },
    },
    {
      id: 'role.superuser-count',
      severity: 'medium',
      title: 'Only one superuser role exists',
      rationale:
        'Every superuser is a full-control credential; administrators should use their own non-superuser roles and escalate rarely.',
      remediation: 'ALTER ROLE name NOSUPERUSER;  -- for every superuser but the bootstrap one',
      cis: ADMIN,
      references: [pgDocs('role-attributes.html')],
      evaluate(facts, context) {
        const supers = facts.roles.filter((r) => r.superuser);
        if (supers.length <= context.thresholds.maxSuperusers)
          return pass(`Superuser(s): ${supers.map((r) => r.name).join(', ') || 'none visible'}.`);
        return fail(
          `${supers.length} superuser roles: ${supers.map((r) => r.name).join(', ')}.`,
          supers.map((r) => roleObject(r.name, 'SUPERUSER')),
        );
      },
    },
    {
      id: 'role.bypassrls',
      severity: 'medium',
      title: 'No ordinary role bypasses row-level security',
      rationale:
        'BYPASSRLS ignores every RLS policy; it belongs only to backup or maintenance roles, if anywhere.',
      remediation: 'ALTER ROLE name NOBYPASSRLS;',
      cis: [cis('4.7', 'Row Level Security (RLS)')],
      references: [pgDocs('ddl-rowsecurity.html')],
      evaluate(facts) {
        const roles = facts.roles.filter((r) => !r.superuser && r.bypassrls);
        if (roles.length === 0) return pass('No non-superuser role has BYPASSRLS.');
        return fail(
          `Roles with BYPASSRLS: ${roles.map((r) => r.name).join(', ')}.`,
          roles.map((r) => roleObject(r.name, 'BYPASSRLS')),
          {
            remediation: roles.map((r) => `ALTER ROLE ${ident(r.name)} NOBYPASSRLS;`).join('\n'),
          },
        );
      },
    },
    {
      id: 'role.replication',
      severity: 'medium',
      title: 'REPLICATION is held only by a dedicated replication role',
      rationale:
        'A REPLICATION role can stream a base backup of every database; it must be a dedicated role used by standbys only.',
      remediation:
        'ALTER ROLE name NOREPLICATION;  -- or, for the dedicated standby role, suppress this finding with the reason',
      cis: [cis('7.1', 'replication-only user')],
      references: [pgDocs('role-attributes.html')],
      evaluate(facts) {
        const roles = facts.roles.filter((r) => !r.superuser && r.replication);
        if (roles.length === 0) return pass('No non-superuser role has REPLICATION.');
        return fail(
          `Roles with REPLICATION: ${roles.map((r) => r.name).join(', ')}.`,
          roles.map((r) => roleObject(r.name, 'REPLICATION')),
          {
            remediation: roles.map((r) => `ALTER ROLE ${ident(r.name)} NOREPLICATION;`).join('\n'),
          },
        );
      },
    },
    {
      id: 'role.member-of-superuser',
      severity: 'high',
      title: 'No role is a member of a superuser role',
      rationale: 'A member of a superuser role can SET ROLE to it and act as a superuser.',
      remediation: 'REVOKE superuser_role FROM member;',
      cis: ADMIN,
      references: [pgDocs('role-membership.html')],
      evaluate(facts) {
        if (facts.memberOfSuperuser.length === 0)
          return pass('No non-superuser role is a member of a superuser role.');
        return fail(
          `Members of superuser roles: ${facts.memberOfSuperuser.map((m) => `${m.role} → ${m.superuser}`).join(', ')}.`,
          facts.memberOfSuperuser.map((m) => roleObject(m.role, `member of ${m.superuser}`)),
          {
            remediation: facts.memberOfSuperuser
              .map((m) => `REVOKE ${ident(m.superuser)} FROM ${ident(m.role)};`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'role.dangerous-predefined',
      severity: 'high',
      title: 'No role holds file, program or all-data predefined roles',
      rationale:
        'pg_execute_server_program and pg_read/write_server_files reach the server OS; pg_read/write_all_data bypass every table privilege.',
      remediation: 'REVOKE pg_execute_server_program FROM name;  -- and the others listed',
      cis: [cis('4.9', 'predefined roles')],
      references: [pgDocs('predefined-roles.html')],
      evaluate(facts) {
        if (facts.dangerous.length === 0)
          return pass(`No non-superuser role is a member of ${DANGEROUS_PREDEFINED.join(', ')}.`);
        return fail(
          `Dangerous memberships: ${facts.dangerous.map((d) => `${d.role} → ${d.predefined}`).join(', ')}.`,
          facts.dangerous.map((d) => roleObject(d.role, `member of ${d.predefined}`)),
          {
            remediation: facts.dangerous
              .map((d) => `REVOKE ${d.predefined} FROM ${ident(d.role)};`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'role.no-connection-limit',
      severity: 'low',
      title: 'Login roles have a connection limit',
      rationale:
        'A role without a limit can exhaust max_connections (a leaking pool, a retry storm) and lock out every other application.',
      remediation: 'ALTER ROLE name CONNECTION LIMIT 50;  -- the pool size of every instance, plus headroom',
      cis: [cis('5.5', 'per-account connection limits')],
      references: [pgDocs('sql-alterrole.html')],
      evaluate(facts) {
        const roles = facts.roles.filter((r) => r.login && !r.superuser && r.connlimit < 0);
        if (roles.length === 0) return pass('Every non-superuser login role has a CONNECTION LIMIT.');
        return fail(
          `Login roles without a connection limit: ${roles.map((r) => r.name).join(', ')}.`,
          roles.map((r) => roleObject(r.name, 'CONNECTION LIMIT -1')),
          {
            remediation: roles.map((r) => `ALTER ROLE ${ident(r.name)} CONNECTION LIMIT 50;`).join('\n'),
          },
        );
      },
    },
    {
      id: 'role.no-password-expiry',
      severity: 'low',
      title: 'Passwords carry an expiry date',
      rationale:
        'A password without VALID UNTIL is valid forever, so a leaked one never stops working unless someone remembers to rotate it.',
      remediation: "ALTER ROLE name VALID UNTIL '2027-01-01';  -- and rotate before then (pgwarden creds)",
      references: [pgDocs('sql-createrole.html')],
      requires: ['authid'],
      evaluate(facts) {
        const withPassword = new Set(
          (facts.passwords ?? []).filter((p) => p.kind !== 'none').map((p) => p.name),
        );
        const roles = facts.roles.filter(
          (r) =>
            r.login && withPassword.has(r.name) && (r.validUntil === null || r.validUntil === 'infinity'),
        );
        if (roles.length === 0)
          return pass(`All ${withPassword.size} login role(s) with a password have VALID UNTIL.`);
        return fail(
          `Passwords that never expire: ${roles.map((r) => r.name).join(', ')}.`,
          roles.map((r) => roleObject(r.name, 'VALID UNTIL infinity')),
          {
            remediation: roles
              .map((r) => `ALTER ROLE ${ident(r.name)} VALID UNTIL '${nextYear()}';`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'role.password-expiring',
      severity: 'medium',
      title: 'No login password expires within 14 days',
      rationale:
        'When VALID UNTIL passes, logins fail with an authentication error that looks like a wrong password; rotate in time.',
      remediation:
        "Rotate the password (pgwarden creds rotate) and ALTER ROLE name VALID UNTIL '<new date>';",
      references: [pgDocs('sql-alterrole.html')],
      evaluate(facts, context) {
        const horizon = context.now.getTime() + context.thresholds.passwordExpiryDays * 86_400_000;
        const expiring = facts.roles.filter((r) => {
          if (!r.login || r.validUntil === null || r.validUntil === 'infinity') return false;
          const at = Date.parse(r.validUntil);
          return Number.isFinite(at) && at < horizon;
        });
        if (expiring.length === 0)
          return pass(
            `No login role's VALID UNTIL falls within ${context.thresholds.passwordExpiryDays} days.`,
          );
        return fail(
          `Expiring or expired: ${expiring.map((r) => `${r.name} (${r.validUntil})`).join(', ')}.`,
          expiring.map((r) => roleObject(r.name, `VALID UNTIL ${r.validUntil}`)),
        );
      },
    },
  ],
});

function nextYear(): string {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d.toISOString().slice(0, 10);
}
