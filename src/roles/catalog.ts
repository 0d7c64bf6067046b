/**
 * What the live catalog says about the roles, databases, schemas, tables and
 * default privileges a roles file manages. Privileges come from aclexplode()
 * over the ACL or, when it is NULL, the built-in default (acldefault), so
 * "nobody ever granted anything" and "PUBLIC may connect" are both visible.
 */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
}

export interface AclEntry {
  /** A role name, or `PUBLIC`. */
  readonly grantee: string;
  /** `SELECT`, `USAGE`, `CONNECT`, … */
  readonly privilege: string;
}

export interface RoleRow {
  readonly name: string;
  readonly canLogin: boolean;
  readonly superuser: boolean;
  readonly createRole: boolean;
  readonly createDb: boolean;
  readonly replication: boolean;
  readonly bypassRls: boolean;
  readonly inherit: boolean;
  readonly connectionLimit: number;
  /** Milliseconds since the epoch, Infinity for `infinity`, null when unset. */
  readonly validUntil: number | null;
  /** `name=value` from ALTER ROLE … SET (all databases). */
  readonly settings: readonly string[];
  readonly memberOf: readonly string[];
}

export interface ObjectRow {
  readonly owner: string;
  readonly acl: readonly AclEntry[];
}

export interface RelationRow extends ObjectRow {
  readonly schema: string;
  readonly name: string;
  /** pg_class.relkind: r table, p partitioned, v view, m materialized view, f foreign, S sequence. */
  readonly kind: string;
  /** A sequence owned by a table column (serial, identity): it follows the table. */
  readonly ownedByTable: boolean;
  /** For a sequence owned by a column (serial, identity): the table's name. */
  readonly owningTable: string | null;
}

export interface DefaultAclRow {
  readonly role: string;
  readonly schema: string;
  /** `r` tables, `S` sequences. */
  readonly objtype: string;
  readonly acl: readonly AclEntry[];
}

export interface Catalog {
  readonly currentUser: string;
  readonly currentUserIsSuperuser: boolean;
  readonly database: string;
  readonly roles: ReadonlyMap<string, RoleRow>;
  readonly databases: ReadonlyMap<string, ObjectRow>;
  readonly schemas: ReadonlyMap<string, ObjectRow>;
  readonly relations: readonly RelationRow[];
  /** Functions, procedures and types (domains, enums, composites, ranges) that a migrator owns. */
  readonly ownedObjects: readonly OwnedObjectRow[];
  readonly defaultAcls: readonly DefaultAclRow[];
}

/** An object besides relations whose owner a migrator takes over. */
export type OwnedObjectRow = {
  readonly schema: string;
  /** `FUNCTION`, `PROCEDURE` or `TYPE`, as in ALTER … OWNER TO. */
  readonly keyword: 'FUNCTION' | 'PROCEDURE' | 'TYPE' | 'DOMAIN';
  /** Already quoted and qualified by the server (regprocedure / format_type): safe to splice. */
  readonly signature: string;
  readonly owner: string;
};

const ACL_JSON = (acl: string) => `COALESCE((SELECT json_agg(json_build_object(
      'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
      'privilege', a.privilege_type)) FROM aclexplode(${acl}) a), '[]'::json)`;

export async function readCatalog(
  db: Queryable,
  names: { roles: string[]; databases: string[]; schemas: string[] },
): Promise<Catalog> {
  const me = await db.query<{ user: string; superuser: boolean; database: string }>(
    `SELECT current_user AS user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            current_database() AS database`,
  );
  const roles = await db.query<{
    rolname: string;
    rolcanlogin: boolean;
    rolsuper: boolean;
    rolcreaterole: boolean;
    rolcreatedb: boolean;
    rolreplication: boolean;
    rolbypassrls: boolean;
    rolinherit: boolean;
    rolconnlimit: number;
    valid_until: number | null;
    settings: string[] | null;
    member_of: string[];
  }>(
    `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication,
            r.rolbypassrls, r.rolinherit, r.rolconnlimit,
            extract(epoch FROM r.rolvaliduntil)::float8 AS valid_until,
            (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0) AS settings,
            ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                   WHERE m.member = r.oid ORDER BY 1)::text[] AS member_of
       FROM pg_roles r WHERE r.rolname = ANY($1::text[])`,
    [names.roles],
  );
  const databases = await db.query<{ datname: string; owner: string; acl: AclEntry[] }>(
    `SELECT d.datname, pg_get_userbyid(d.datdba) AS owner, ${ACL_JSON("COALESCE(d.datacl, acldefault('d', d.datdba))")} AS acl
       FROM pg_database d WHERE d.datname = ANY($1::text[])`,
    [names.databases],
  );
  const schemas = await db.query<{ nspname: string; owner: string; acl: AclEntry[] }>(
    `SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner, ${ACL_JSON("COALESCE(n.nspacl, acldefault('n', n.nspowner))")} AS acl
       FROM pg_namespace n WHERE n.nspname = ANY($1::text[])`,
    [names.schemas],
  );
  const relations = await db.query<{
    schema: string;
    name: string;
    kind: string;
    owner: string;
    owning_table: string | null;
    acl: AclEntry[];
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind, pg_get_userbyid(c.relowner) AS owner,
            (SELECT t.relname FROM pg_depend dep JOIN pg_class t ON t.oid = dep.refobjid
              WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
                AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
              LIMIT 1) AS owning_table,
            ${ACL_JSON(`COALESCE(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))`)} AS acl
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      ORDER BY 1, 2`,
    [names.schemas],
  );
  // Signatures come quoted by the server itself (regprocedure, format_type), so
  // ALTER … OWNER TO can name overloaded functions and odd type names exactly.
  const owned = await db.query<OwnedObjectRow>(
    `SELECT n.nspname AS schema, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS keyword,
            p.oid::regprocedure::text AS signature, pg_get_userbyid(p.proowner) AS owner
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = ANY($1::text[]) AND p.prokind IN ('f', 'p', 'w')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     UNION ALL
     SELECT n.nspname, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
            format_type(t.oid, NULL), pg_get_userbyid(t.typowner)
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = ANY($1::text[]) AND t.typtype IN ('c', 'd', 'e', 'r')
        -- a table's row type follows the table; only stand-alone composite types count
        AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
      ORDER BY 1, 3`,
    [names.schemas],
  );
  const defaults = await db.query<{ role: string; schema: string; objtype: string; acl: AclEntry[] }>(
    `SELECT pg_get_userbyid(d.defaclrole) AS role, n.nspname AS schema, d.defaclobjtype::text AS objtype,
            ${ACL_JSON('d.defaclacl')} AS acl
       FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
      WHERE n.nspname = ANY($1::text[])`,
    [names.schemas],
  );
  return {
    currentUser: me.rows[0]?.user ?? '',
    currentUserIsSuperuser: me.rows[0]?.superuser ?? false,
    database: me.rows[0]?.database ?? '',
    roles: new Map(
      roles.rows.map((r) => [
        r.rolname,
        {
          name: r.rolname,
          canLogin: r.rolcanlogin,
          superuser: r.rolsuper,
          createRole: r.rolcreaterole,
          createDb: r.rolcreatedb,
          replication: r.rolreplication,
          bypassRls: r.rolbypassrls,
          inherit: r.rolinherit,
          connectionLimit: r.rolconnlimit,
          validUntil: r.valid_until === null ? null : Number(r.valid_until) * 1000,
          settings: r.settings ?? [],
          memberOf: r.member_of,
        },
      ]),
    ),
    databases: new Map(databases.rows.map((d) => [d.datname, { owner: d.owner, acl: d.acl }])),
    schemas: new Map(schemas.rows.map((s) => [s.nspname, { owner: s.owner, acl: s.acl }])),
    relations: relations.rows.map((r) => ({
      schema: r.schema,
      name: r.name,
      kind: r.kind,
      owner: r.owner,
      ownedByTable: r.owning_table !== null,
      owningTable: r.owning_table,
      acl: r.acl,
    })),
    ownedObjects: owned.rows,
    defaultAcls: defaults.rows,
  };
}

/** Privileges `grantee` holds directly in `acl`. */
export function privilegesOf(acl: readonly AclEntry[], grantee: string): Set<string> {
  return new Set(acl.filter((a) => a.grantee === grantee).map((a) => a.privilege));
}
