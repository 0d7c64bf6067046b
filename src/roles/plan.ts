/**
 * The difference between a roles file and the live catalog, as the SQL that
 * closes it. Every identifier goes through `quoteIdentifier` and every value
 * through `escapeLiteral`: a role called `x"; DROP TABLE t; --` is created
 * with exactly that name and nothing else runs. A name with control
 * characters is printed in `U&"…"` form (printable-sql.ts); the `reason` is
 * raw text, escaped by whoever prints it (a newline there would end a
 * `-- comment` and run what follows under `psql -f`). Passwords of new login roles
 * are never in the plan; `apply` inserts their SCRAM verifier.
 */
import { escapeLiteral } from 'pg';
import { quoteIdentifier as q } from '../sql/sql.js';
import { ConfigError } from '../errors.js';
import {
  privilegesOf,
  readCatalog,
  type Catalog,
  type Queryable,
  type RelationRow,
  type RoleRow,
} from './catalog.js';
import { printableSql } from './printable-sql.js';
import { LOGIN_SETTINGS, type GroupSpec, type LoginSpec, type Preset, type RolesFile } from './roles-file.js';

export interface PlannedStatement {
  /** The SQL as shown (a new login's password appears as `'<SCRAM-SHA-256 verifier>'`). */
  readonly sql: string;
  /** Why: the object and the difference found. */
  readonly reason: string;
  /** For CREATE ROLE … PASSWORD: where the password comes from, and how to put the verifier in. */
  readonly password?: {
    readonly role: string;
    readonly creds: string;
    readonly render: (verifier: string) => string;
  };
}

export interface RolesPlan {
  readonly database: string;
  readonly connectedAs: string;
  readonly statements: readonly PlannedStatement[];
  /** Things the file cannot fix by itself (reported, not applied). */
  readonly warnings: readonly string[];
}

export interface PlanOptions {
  /** Whether a creds environment already holds a password (else apply generates one). Default: unknown → "from creds". */
  hasCredentials?: (environment: string) => Promise<boolean>;
}

const PASSWORD_PLACEHOLDER = "'<SCRAM-SHA-256 verifier>'";

const TABLE_KINDS = new Set(['r', 'p', 'v', 'm', 'f']);
const DANGEROUS = [
  ['superuser', 'SUPERUSER'],
  ['createRole', 'CREATEROLE'],
  ['replication', 'REPLICATION'],
  ['bypassRls', 'BYPASSRLS'],
] as const;

/** Privileges a preset gives on existing and future objects of its schemas. */
function tablePrivileges(preset: Preset, kind: string): string[] {
  if (preset === 'readonly') return ['SELECT'];
  if (preset === 'app') return kind === 'm' ? ['SELECT'] : ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
  return [];
}
function sequencePrivileges(preset: Preset): string[] {
  return preset === 'app' ? ['USAGE'] : [];
}

/** Whether a group's grants reach a relation: all of its schemas, or only its listed tables and their sequences. */
function covers(spec: GroupSpec, rel: RelationRow): boolean {
  if (!spec.tables) return true;
  return spec.tables.includes(rel.kind === 'S' ? (rel.owningTable ?? '') : rel.name);
}

const RELATION_KEYWORD: Record<string, string> = {
  r: 'TABLE',
  p: 'TABLE',
  f: 'FOREIGN TABLE',
  v: 'VIEW',
  m: 'MATERIALIZED VIEW',
  S: 'SEQUENCE',
};

/** Reads the catalog and computes the plan. Read-only. */
export async function planRoles(
  db: Queryable,
  file: RolesFile,
  options: PlanOptions = {},
): Promise<RolesPlan> {
  const schemas = new Set<string>(['public']);
  for (const group of Object.values(file.groups)) for (const s of group.schemas) schemas.add(s);
  const managed = [...Object.keys(file.groups), ...Object.keys(file.logins)];
  const owners = file.owner ? [file.owner] : [];
  const catalog = await readCatalog(db, {
    roles: [...managed, ...owners],
    databases: [...new Set([...(file.database ? [file.database] : []), ...file.lock_databases])],
    schemas: [...schemas],
  });
  const database = file.database ?? catalog.database;
  if (database !== catalog.database) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `The roles file manages database "${database}" but the connection is to "${catalog.database}".`,
      {
        option: '--url',
        fix: `Connect to "${database}" (pgwarden roles connects there itself unless --url names another).`,
      },
    );
  }
  if (managed.includes(catalog.currentUser)) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `The roles file manages "${catalog.currentUser}", the role this command is connected as.`,
      {
        option: '--url',
        fix: 'Apply the file as an administrator role that the file does not manage.',
      },
    );
  }
  if (file.owner !== undefined && !catalog.roles.has(file.owner) && !managed.includes(file.owner)) {
    throw new ConfigError('PGW_CONFIG_CONFLICT', `The owner role "${file.owner}" does not exist.`, {
      option: 'owner',
      fix: 'Create it, or remove owner: from the file.',
    });
  }
  const builder = new PlanBuilder(catalog, file, database, options);
  await builder.build();
  return {
    database,
    connectedAs: catalog.currentUser,
    statements: builder.statements,
    warnings: builder.warnings,
  };
}

class PlanBuilder {
  readonly statements: PlannedStatement[] = [];
  readonly warnings: string[] = [];
  constructor(
    readonly catalog: Catalog,
    readonly file: RolesFile,
    readonly database: string,
    readonly options: PlanOptions,
  ) {}

  /** Names from the catalog may hold control characters: statements are made printable (U& names). */
  add(statementSql: string, reason: string, password?: PlannedStatement['password']): void {
    const sql = printableSql(statementSql);
    this.statements.push(
      password
        ? {
            sql,
            reason,
            password: { ...password, render: (verifier) => printableSql(password.render(verifier)) },
          }
        : { sql, reason },
    );
  }

  async build(): Promise<void> {
    for (const [name, spec] of Object.entries(this.file.groups)) this.group(name, spec);
    for (const [name, spec] of Object.entries(this.file.logins)) await this.login(name, spec);
    this.publicAccess();
    for (const [name, spec] of Object.entries(this.file.groups)) this.groupPrivileges(name, spec);
  }

  group(name: string, spec: GroupSpec): void {
    const row = this.catalog.roles.get(name);
    const createDb = spec.attributes.includes('CREATEDB');
    if (!row) {
      this.add(
        `CREATE ROLE ${q(name)} NOLOGIN NOSUPERUSER ${createDb ? 'CREATEDB' : 'NOCREATEDB'} NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT`,
        `group ${name} does not exist`,
      );
      return;
    }
    const changes = this.attributeChanges(row, false, createDb);
    if (changes.length)
      this.add(`ALTER ROLE ${q(name)} ${changes.join(' ')}`, `group ${name}: ${changes.join(', ')} differ`);
  }

  attributeChanges(row: RoleRow, login: boolean, createDb: boolean): string[] {
    const changes: string[] = [];
    if (row.canLogin !== login) changes.push(login ? 'LOGIN' : 'NOLOGIN');
    for (const [key, keyword] of DANGEROUS) if (row[key]) changes.push(`NO${keyword}`);
    if (row.createDb !== createDb) changes.push(createDb ? 'CREATEDB' : 'NOCREATEDB');
    if (!row.inherit) changes.push('INHERIT');
    return changes;
  }

  async login(name: string, spec: LoginSpec): Promise<void> {
    const row = this.catalog.roles.get(name);
    const createDb = spec.attributes.includes('CREATEDB');
    const limit = spec.connection_limit ?? -1;
    if (!row) {
      const head = `CREATE ROLE ${q(name)} LOGIN NOSUPERUSER ${createDb ? 'CREATEDB' : 'NOCREATEDB'} NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT ${limit}`;
      const until = spec.valid_until ? ` VALID UNTIL ${escapeLiteral(spec.valid_until)}` : '';
      const groups = spec.groups.length ? ` IN ROLE ${spec.groups.map(q).join(', ')}` : '';
      if (spec.password) {
        const env = spec.password.creds;
        const known = this.options.hasCredentials ? await this.options.hasCredentials(env) : true;
        this.add(
          `${head} PASSWORD ${PASSWORD_PLACEHOLDER}${until}${groups}`,
          `login ${name} does not exist; password ${known ? `from creds environment "${env}"` : `generated and stored as creds environment "${env}"`}`,
          {
            role: name,
            creds: env,
            render: (verifier) => `${head} PASSWORD ${escapeLiteral(verifier)}${until}${groups}`,
          },
        );
      } else {
        this.add(
          `${head}${until}${groups}`,
          `login ${name} does not exist (no password: certificate or peer authentication)`,
        );
      }
      for (const key of LOGIN_SETTINGS) {
        const value = spec[key];
        if (value !== undefined)
          this.add(`ALTER ROLE ${q(name)} SET ${key} = ${escapeLiteral(value)}`, `login ${name}: ${key}`);
      }
      return;
    }
    const changes = this.attributeChanges(row, true, createDb);
    if (row.connectionLimit !== limit) changes.push(`CONNECTION LIMIT ${limit}`);
    if (spec.valid_until !== undefined) {
      const wanted = spec.valid_until === 'infinity' ? Infinity : Date.parse(spec.valid_until);
      if (
        row.validUntil === null ||
        Math.abs(row.validUntil - wanted) >= 1 ||
        (wanted === Infinity) !== (row.validUntil === Infinity)
      ) {
        changes.push(`VALID UNTIL ${escapeLiteral(spec.valid_until)}`);
      }
    }
    if (changes.length)
      this.add(
        `ALTER ROLE ${q(name)} ${changes.join(' ')}`,
        `login ${name}: ${changes.map((c) => c.split(' ')[0]).join(', ')} differ`,
      );
    for (const group of spec.groups) {
      if (!row.memberOf.includes(group))
        this.add(`GRANT ${q(group)} TO ${q(name)}`, `login ${name} is not a member of ${group}`);
    }
    for (const group of row.memberOf) {
      if (this.file.groups[group] && !spec.groups.includes(group)) {
        this.add(
          `REVOKE ${q(group)} FROM ${q(name)}`,
          `login ${name} is a member of ${group}, which the file does not list`,
        );
      }
    }
    const current = new Map(
      row.settings.map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)]),
    );
    for (const key of LOGIN_SETTINGS) {
      const value = spec[key];
      if (value !== undefined && current.get(key) !== value) {
        this.add(
          `ALTER ROLE ${q(name)} SET ${key} = ${escapeLiteral(value)}`,
          `login ${name}: ${key} is ${current.get(key) ?? 'not set'}`,
        );
      } else if (value === undefined && current.has(key)) {
        this.add(`ALTER ROLE ${q(name)} RESET ${key}`, `login ${name}: ${key} is set but not in the file`);
      }
    }
    const memberships = row.memberOf.filter((g) => !this.file.groups[g] && !g.startsWith('pg_'));
    if (memberships.length)
      this.warnings.push(
        `login ${name} is also a member of ${memberships.join(', ')}, which the file does not manage`,
      );
  }

  publicAccess(): void {
    if (!this.file.revoke_public) return;
    const publicSchema = this.catalog.schemas.get('public');
    if (publicSchema && privilegesOf(publicSchema.acl, 'PUBLIC').has('CREATE')) {
      this.add('REVOKE CREATE ON SCHEMA "public" FROM PUBLIC', 'PUBLIC may create objects in schema public');
    }
    for (const name of [...new Set([this.database, ...this.file.lock_databases])]) {
      const db = this.catalog.databases.get(name) ?? (name === this.database ? undefined : undefined);
      if (!db) {
        if (name !== this.database) this.warnings.push(`database ${name} (lock_databases) does not exist`);
        continue;
      }
      const held = privilegesOf(db.acl, 'PUBLIC');
      if (held.size)
        this.add(
          `REVOKE ALL ON DATABASE ${q(name)} FROM PUBLIC`,
          `PUBLIC holds ${[...held].join(', ')} on database ${name}`,
        );
    }
  }

  groupPrivileges(name: string, spec: GroupSpec): void {
    const db = this.catalog.databases.get(this.database);
    if (!db || !privilegesOf(db.acl, name).has('CONNECT')) {
      this.add(
        `GRANT CONNECT ON DATABASE ${q(this.database)} TO ${q(name)}`,
        `group ${name} cannot connect to ${this.database}`,
      );
    }
    for (const schema of spec.schemas) {
      const row = this.catalog.schemas.get(schema);
      if (!row) {
        const owner = spec.preset === 'migrator' ? name : this.migratorOf(schema);
        if (!this.statements.some((s) => s.sql.startsWith(`CREATE SCHEMA ${q(schema)}`))) {
          this.add(
            `CREATE SCHEMA ${q(schema)}${owner ? ` AUTHORIZATION ${q(owner)}` : ''}`,
            `schema ${schema} does not exist`,
          );
        }
      }
      if (spec.preset === 'migrator') {
        if (row && row.owner !== name)
          this.add(
            `ALTER SCHEMA ${q(schema)} OWNER TO ${q(name)}`,
            `schema ${schema} is owned by ${row.owner}`,
          );
        for (const rel of this.catalog.relations) {
          if (rel.schema !== schema || rel.owner === name || rel.ownedByTable) continue;
          this.add(
            `ALTER ${RELATION_KEYWORD[rel.kind] ?? 'TABLE'} ${q(schema)}.${q(rel.name)} OWNER TO ${q(name)}`,
            `${schema}.${rel.name} is owned by ${rel.owner}`,
          );
        }
        for (const object of this.catalog.ownedObjects) {
          if (object.schema !== schema || object.owner === name) continue;
          this.add(
            `ALTER ${object.keyword} ${object.signature} OWNER TO ${q(name)}`,
            `${object.keyword.toLowerCase()} ${object.signature} is owned by ${object.owner}`,
          );
        }
        continue;
      }
      const schemaPrivs = row ? privilegesOf(row.acl, name) : new Set<string>();
      if (!schemaPrivs.has('USAGE'))
        this.add(
          `GRANT USAGE ON SCHEMA ${q(schema)} TO ${q(name)}`,
          `group ${name} cannot use schema ${schema}`,
        );
      if (schemaPrivs.has('CREATE'))
        this.add(
          `REVOKE CREATE ON SCHEMA ${q(schema)} FROM ${q(name)}`,
          `group ${name} (${spec.preset}) may create in ${schema}`,
        );
      for (const rel of this.catalog.relations) {
        // An owner's own rights are not grants; leave them alone.
        if (rel.schema !== schema || rel.owner === name) continue;
        const wanted = !covers(spec, rel)
          ? []
          : rel.kind === 'S'
            ? sequencePrivileges(spec.preset)
            : TABLE_KINDS.has(rel.kind)
              ? tablePrivileges(spec.preset, rel.kind)
              : [];
        this.grantDiff(
          `${RELATION_KEYWORD[rel.kind] === 'SEQUENCE' ? 'SEQUENCE' : 'TABLE'} ${q(schema)}.${q(rel.name)}`,
          privilegesOf(rel.acl, name),
          wanted,
          name,
          `${schema}.${rel.name}`,
        );
      }
      // A table list is a closed set: tables created later get nothing until they are listed.
      this.defaultPrivileges(name, spec.tables ? undefined : spec.preset, schema);
    }
    for (const table of spec.tables ?? []) {
      const found = this.catalog.relations.some(
        (rel) => rel.name === table && rel.kind !== 'S' && spec.schemas.includes(rel.schema),
      );
      if (!found)
        this.warnings.push(
          `groups.${name}.tables: "${table}" is in none of ${spec.schemas.join(', ')}; nothing is granted on it until it exists and the file is applied again.`,
        );
    }
  }

  grantDiff(target: string, held: Set<string>, wanted: string[], grantee: string, label: string): void {
    const missing = wanted.filter((p) => !held.has(p));
    const extra = [...held].filter((p) => !wanted.includes(p)).sort();
    if (missing.length)
      this.add(
        `GRANT ${missing.join(', ')} ON ${target} TO ${q(grantee)}`,
        `${grantee} lacks ${missing.join(', ')} on ${label}`,
      );
    if (extra.length)
      this.add(
        `REVOKE ${extra.join(', ')} ON ${target} FROM ${q(grantee)}`,
        `${grantee} holds ${extra.join(', ')} on ${label} beyond what the file grants`,
      );
  }

  /**
   * Future tables and sequences created by the schema's owners get the
   * preset's privileges; with no preset (a group limited to listed tables), none.
   */
  defaultPrivileges(group: string, preset: Preset | undefined, schema: string): void {
    for (const owner of this.ownersOf(schema)) {
      for (const [objtype, keyword, wanted] of [
        ['r', 'TABLES', preset ? tablePrivileges(preset, 'r') : []],
        ['S', 'SEQUENCES', preset ? sequencePrivileges(preset) : []],
      ] as const) {
        const row = this.catalog.defaultAcls.find(
          (d) => d.role === owner && d.schema === schema && d.objtype === objtype,
        );
        const held = row ? privilegesOf(row.acl, group) : new Set<string>();
        const missing = wanted.filter((p) => !held.has(p));
        const extra = [...held].filter((p) => !(wanted as readonly string[]).includes(p)).sort();
        const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${q(owner)} IN SCHEMA ${q(schema)}`;
        if (missing.length)
          this.add(
            `${prefix} GRANT ${missing.join(', ')} ON ${keyword} TO ${q(group)}`,
            `future ${keyword.toLowerCase()} of ${owner} in ${schema}`,
          );
        if (extra.length)
          this.add(
            `${prefix} REVOKE ${extra.join(', ')} ON ${keyword} FROM ${q(group)}`,
            `future ${keyword.toLowerCase()} of ${owner} in ${schema} grant more than the preset`,
          );
      }
    }
  }

  migratorOf(schema: string): string | undefined {
    return Object.entries(this.file.groups).find(
      ([, g]) => g.preset === 'migrator' && g.schemas.includes(schema),
    )?.[0];
  }

  /** Who creates tables in `schema`: its migrator groups, else `owner:`, else the connected role. */
  ownersOf(schema: string): string[] {
    const migrators = Object.entries(this.file.groups)
      .filter(([, g]) => g.preset === 'migrator' && g.schemas.includes(schema))
      .map(([n]) => n);
    if (migrators.length) return migrators;
    return [this.file.owner ?? this.catalog.currentUser];
  }
}
