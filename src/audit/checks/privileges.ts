/**
 * Privileges of the connected database: what PUBLIC may do, grant options,
 * default privileges, who can read pg_authid, and row-level security that is
 * half set up. Catalog-per-database checks cover the database the audit
 * connected to; run the audit once per application database.
 */
import { cis, defineArea, fail, pass, pgDocs } from '../check.js';
import { ident, qualified } from '../sql-text.js';

export interface PrivilegesFacts {
  readonly database: string;
  readonly schemaCreate: readonly string[];
  readonly databasePublic: readonly { name: string; privileges: string }[];
  readonly tablePublic: readonly { schema: string; name: string; kind: string; privileges: string }[];
  readonly grantOption: readonly { schema: string; name: string; grantee: string; privileges: string }[];
  readonly defaultAclPublic: readonly {
    role: string;
    schema: string | null;
    objtype: string;
    privileges: string;
  }[];
  readonly authidReaders: readonly string[];
  readonly rlsPolicyDisabled: readonly { schema: string; name: string; policies: number }[];
  readonly rlsNoPolicy: readonly { schema: string; name: string }[];
  readonly definerViews: readonly { schema: string; name: string; owner: string; reason: string }[];
}

const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`;
const grantee = (column: string): string =>
  `CASE WHEN ${column} = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(${column})::text END`;

const PRIVILEGES_SQL = `SELECT json_build_object(
  'database', current_database(),
  'schemaCreate', (SELECT coalesce(json_agg(n.nspname ORDER BY n.nspname), '[]'::json) FROM pg_catalog.pg_namespace n
    WHERE ${USER_NS} AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
      WHERE a.grantee = 0 AND a.privilege_type = 'CREATE')),
  'databasePublic', (SELECT coalesce(json_agg(x ORDER BY x.name), '[]'::json) FROM (
    SELECT d.datname AS name, string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
    FROM pg_catalog.pg_database d, pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
    WHERE NOT d.datistemplate AND d.datallowconn AND a.grantee = 0 GROUP BY d.datname) x),
  'tablePublic', (SELECT coalesce(json_agg(x ORDER BY x.schema, x.name), '[]'::json) FROM (
    SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, pg_catalog.aclexplode(c.relacl) a
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_NS} AND a.grantee = 0 GROUP BY 1, 2, 3) x),
  'grantOption', (SELECT coalesce(json_agg(x ORDER BY x.schema, x.name, x.grantee), '[]'::json) FROM (
    SELECT n.nspname AS schema, c.relname AS name, ${grantee('a.grantee')} AS grantee, string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, pg_catalog.aclexplode(c.relacl) a
    WHERE ${USER_NS} AND a.is_grantable AND a.grantee <> c.relowner GROUP BY 1, 2, 3 LIMIT 100) x),
  'defaultAclPublic', (SELECT coalesce(json_agg(x), '[]'::json) FROM (
    SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::text AS role, n.nspname AS schema, d.defaclobjtype AS objtype,
      string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
    FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace, pg_catalog.aclexplode(d.defaclacl) a
    WHERE a.grantee = 0 GROUP BY 1, 2, 3) x),
  'authidReaders', (SELECT coalesce(json_agg(DISTINCT g.name), '[]'::json) FROM (
    SELECT ${grantee('a.grantee')} AS name FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
      WHERE c.oid = 'pg_catalog.pg_authid'::pg_catalog.regclass AND a.grantee <> c.relowner
    UNION SELECT ${grantee('a.grantee')} FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a
      WHERE att.attrelid = 'pg_catalog.pg_authid'::pg_catalog.regclass) g),
  'rlsPolicyDisabled', (SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'name', c.relname,
      'policies', (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)) ORDER BY n.nspname, c.relname), '[]'::json)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)),
  'rlsNoPolicy', (SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'name', c.relname) ORDER BY n.nspname, c.relname), '[]'::json)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND ${USER_NS} AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)),
  'definerViews', (SELECT coalesce(json_agg(x ORDER BY x.schema, x.name), '[]'::json) FROM (
    SELECT n.nspname AS schema, c.relname AS name, o.rolname AS owner,
      CASE WHEN o.rolsuper THEN 'its owner is a superuser' WHEN o.rolbypassrls THEN 'its owner has BYPASSRLS'
           ELSE 'it reads a table with row-level security as its owner' END AS reason
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
    WHERE c.relkind = 'v' AND ${USER_NS}
      AND NOT EXISTS (SELECT 1 FROM unnest(c.reloptions) opt WHERE opt ~* '^security_invoker=(true|on|yes|1)$')
      AND (o.rolsuper OR o.rolbypassrls OR EXISTS (
        SELECT 1 FROM pg_catalog.pg_rewrite rw
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid
        JOIN pg_catalog.pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        WHERE rw.ev_class = c.oid AND t.oid <> c.oid AND t.relrowsecurity))) x)
) AS facts`;

const OBJTYPES: Record<string, string> = {
  r: 'TABLES',
  S: 'SEQUENCES',
  f: 'FUNCTIONS',
  T: 'TYPES',
  n: 'SCHEMAS',
};
const DML = [cis('4.6', 'excessive DML privileges')];
const RLS = [cis('4.7', 'Row Level Security (RLS)')];

export const privilegesArea = defineArea<PrivilegesFacts>({
  area: 'privileges',
  needsConnection: true,
  async gather({ session }) {
    return (await session!.query<{ facts: PrivilegesFacts }>(PRIVILEGES_SQL))[0]!.facts;
  },
  checks: [
    {
      id: 'priv.public-schema-create',
      severity: 'high',
      title: 'PUBLIC cannot create objects in any schema',
      rationale:
        "With CREATE on a schema in everyone's search_path, any role can plant functions or operators that shadow trusted ones (CVE-2018-1058).",
      remediation: 'REVOKE CREATE ON SCHEMA public FROM PUBLIC;',
      references: [pgDocs('ddl-schemas.html#DDL-SCHEMAS-PATTERNS')],
      evaluate(facts) {
        if (facts.schemaCreate.length === 0)
          return pass(`No schema of ${facts.database} grants CREATE to PUBLIC.`);
        return fail(
          `PUBLIC may CREATE in: ${facts.schemaCreate.join(', ')} (database ${facts.database}).`,
          facts.schemaCreate.map((s) => ({ type: 'schema', name: s, value: 'CREATE to PUBLIC' })),
          {
            remediation: facts.schemaCreate
              .map((s) => `REVOKE CREATE ON SCHEMA ${ident(s)} FROM PUBLIC;`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'priv.database-public',
      severity: 'medium',
      title: 'PUBLIC cannot connect to or create temporary tables in databases',
      rationale:
        'By default every role may connect to every database; grant CONNECT to the roles that need each one.',
      remediation: 'REVOKE ALL ON DATABASE appdb FROM PUBLIC; GRANT CONNECT ON DATABASE appdb TO app;',
      cis: DML,
      references: [pgDocs('ddl-priv.html')],
      evaluate(facts) {
        if (facts.databasePublic.length === 0)
          return pass('No connectable database grants anything to PUBLIC.');
        return fail(
          `Databases granting to PUBLIC: ${facts.databasePublic.map((d) => `${d.name} (${d.privileges})`).join(', ')}.`,
          facts.databasePublic.map((d) => ({ type: 'database', name: d.name, value: d.privileges })),
          {
            remediation: facts.databasePublic
              .map((d) => `REVOKE ALL ON DATABASE ${ident(d.name)} FROM PUBLIC;`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'priv.public-table-grants',
      severity: 'medium',
      title: 'No table or view grants privileges to PUBLIC',
      rationale:
        'A grant to PUBLIC reaches every role, present and future, including ones created for other applications.',
      remediation: 'REVOKE ALL ON schema.table FROM PUBLIC;  -- grant the roles that need it instead',
      cis: DML,
      references: [pgDocs('ddl-priv.html')],
      evaluate(facts) {
        if (facts.tablePublic.length === 0) return pass(`No relation in ${facts.database} grants to PUBLIC.`);
        return fail(
          `Relations granting to PUBLIC: ${facts.tablePublic.map((t) => `${t.schema}.${t.name} (${t.privileges})`).join(', ')}.`,
          facts.tablePublic.map((t) => ({
            type: 'relation',
            name: `${t.schema}.${t.name}`,
            value: t.privileges,
          })),
          {
            remediation: facts.tablePublic
              .map((t) => `REVOKE ALL ON ${qualified(t.schema, t.name)} FROM PUBLIC;`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'priv.grant-option',
      severity: 'low',
      title: 'No privilege is held WITH GRANT OPTION by a non-owner',
      rationale:
        "A grant option lets its holder hand the privilege on to anyone, outside the owner's control.",
      remediation: 'REVOKE GRANT OPTION FOR SELECT ON schema.table FROM role;',
      cis: DML,
      references: [pgDocs('ddl-priv.html')],
      evaluate(facts) {
        if (facts.grantOption.length === 0)
          return pass(`No relation in ${facts.database} has a grant option held by a non-owner.`);
        return fail(
          `Grant options: ${facts.grantOption.map((g) => `${g.schema}.${g.name} → ${g.grantee} (${g.privileges})`).join(', ')}.`,
          facts.grantOption.map((g) => ({
            type: 'relation',
            name: `${g.schema}.${g.name}`,
            value: `${g.privileges} WITH GRANT OPTION to ${g.grantee}`,
          })),
          {
            remediation: facts.grantOption
              .map(
                (g) =>
                  `REVOKE GRANT OPTION FOR ${g.privileges} ON ${qualified(g.schema, g.name)} FROM ${g.grantee === 'PUBLIC' ? 'PUBLIC' : ident(g.grantee)};`,
              )
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'priv.default-acl-public',
      severity: 'medium',
      title: 'Default privileges grant nothing to PUBLIC',
      rationale: 'ALTER DEFAULT PRIVILEGES ... TO PUBLIC silently exposes every future object.',
      remediation: 'ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA s REVOKE ALL ON TABLES FROM PUBLIC;',
      cis: DML,
      references: [pgDocs('sql-alterdefaultprivileges.html')],
      evaluate(facts) {
        if (facts.defaultAclPublic.length === 0)
          return pass(`No default privilege in ${facts.database} grants to PUBLIC.`);
        return fail(
          `Default privileges to PUBLIC: ${facts.defaultAclPublic.map((d) => `${d.role}${d.schema ? ` in ${d.schema}` : ''} on ${OBJTYPES[d.objtype] ?? d.objtype} (${d.privileges})`).join(', ')}.`,
          facts.defaultAclPublic.map((d) => ({
            type: 'default-acl',
            name: `${d.role}${d.schema ? `/${d.schema}` : ''}/${OBJTYPES[d.objtype] ?? d.objtype}`,
            value: d.privileges,
          })),
          {
            remediation: facts.defaultAclPublic
              .map(
                (d) =>
                  `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(d.role)}${d.schema ? ` IN SCHEMA ${ident(d.schema)}` : ''} REVOKE ALL ON ${OBJTYPES[d.objtype] ?? 'TABLES'} FROM PUBLIC;`,
              )
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'priv.pg-authid',
      severity: 'critical',
      title: 'Only superusers can read pg_authid',
      rationale:
        'pg_authid holds the password hashes; an md5 hash is a password equivalent and SCRAM verifiers can be attacked offline.',
      remediation: 'REVOKE ALL ON pg_catalog.pg_authid FROM role;',
      references: [pgDocs('catalog-pg-authid.html')],
      evaluate(facts) {
        if (facts.authidReaders.length === 0) return pass('pg_authid carries no grant beyond its owner.');
        return fail(
          `Granted access to pg_authid: ${facts.authidReaders.join(', ')}.`,
          facts.authidReaders.map((r) => ({ type: 'role', name: r, value: 'SELECT on pg_authid' })),
          {
            remediation: facts.authidReaders
              .map((r) => `REVOKE ALL ON pg_catalog.pg_authid FROM ${r === 'PUBLIC' ? 'PUBLIC' : ident(r)};`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'priv.rls-policy-disabled',
      severity: 'high',
      title: 'Tables with policies have row-level security enabled',
      rationale:
        'Policies on a table without ENABLE ROW LEVEL SECURITY are ignored: every row is visible to whoever has SELECT.',
      remediation: 'ALTER TABLE schema.table ENABLE ROW LEVEL SECURITY;',
      cis: RLS,
      references: [pgDocs('ddl-rowsecurity.html')],
      evaluate(facts) {
        if (facts.rlsPolicyDisabled.length === 0)
          return pass(`Every table with a policy in ${facts.database} has RLS enabled.`);
        return fail(
          `Policies ignored because RLS is off: ${facts.rlsPolicyDisabled.map((t) => `${t.schema}.${t.name} (${t.policies} policies)`).join(', ')}.`,
          facts.rlsPolicyDisabled.map((t) => ({
            type: 'table',
            name: `${t.schema}.${t.name}`,
            value: 'policies without RLS',
          })),
          {
            remediation: facts.rlsPolicyDisabled
              .map((t) => `ALTER TABLE ${qualified(t.schema, t.name)} ENABLE ROW LEVEL SECURITY;`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'priv.rls-no-policy',
      severity: 'low',
      title: 'Tables with row-level security have policies',
      rationale:
        'RLS without a policy denies every row to everyone but the owner; usually a policy was forgotten.',
      remediation:
        "CREATE POLICY tenant_isolation ON schema.table USING (tenant_id = current_setting('app.tenant')::int);",
      cis: RLS,
      references: [pgDocs('ddl-rowsecurity.html')],
      evaluate(facts) {
        if (facts.rlsNoPolicy.length === 0)
          return pass(`Every RLS table in ${facts.database} has at least one policy.`);
        return fail(
          `RLS enabled without any policy: ${facts.rlsNoPolicy.map((t) => `${t.schema}.${t.name}`).join(', ')}.`,
          facts.rlsNoPolicy.map((t) => ({
            type: 'table',
            name: `${t.schema}.${t.name}`,
            value: 'RLS without policies',
          })),
        );
      },
    },
    {
      id: 'priv.security-definer-view',
      severity: 'medium',
      title: 'Views do not bypass row-level security through their owner',
      rationale:
        "A view runs with its owner's rights: owned by a superuser or BYPASSRLS role, or over an RLS table, it shows every row to every reader.",
      remediation: 'ALTER VIEW schema.view SET (security_invoker = true);  -- PostgreSQL 15+',
      cis: RLS,
      references: [pgDocs('sql-createview.html')],
      evaluate(facts) {
        if (facts.definerViews.length === 0)
          return pass(`No view in ${facts.database} reads around RLS with its owner's rights.`);
        return fail(
          `Views evaluated with their owner's rights: ${facts.definerViews.map((v) => `${v.schema}.${v.name} (${v.reason})`).join(', ')}.`,
          facts.definerViews.map((v) => ({ type: 'view', name: `${v.schema}.${v.name}`, value: v.reason })),
          {
            remediation: facts.definerViews
              .map((v) => `ALTER VIEW ${qualified(v.schema, v.name)} SET (security_invoker = true);`)
              .join('\n'),
          },
        );
      },
    },
  ],
});
