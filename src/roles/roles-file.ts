/**
 * The roles file (roles.yaml): a declarative least-privilege model. Parsed
 * with `yaml` (eemeli) and validated with zod; every error names the line and
 * column of the offending node.
 *
 * ```yaml
 * version: 1
 * database: app                # grants are made here (default: the connection's database)
 * revoke_public: true          # REVOKE CREATE ON SCHEMA public / ALL ON DATABASE FROM PUBLIC (default true)
 * lock_databases: [postgres]   # also REVOKE ALL ON DATABASE … FROM PUBLIC on these
 * owner: migrations            # who creates tables: default privileges are set FOR this role
 * groups:                      # NOLOGIN roles holding the grants
 *   app_rw:   { preset: app, schemas: [public] }
 *   app_ro:   { preset: readonly, schemas: [public] }
 *   orders_rw: { preset: app, schemas: [public], tables: [users, orders] }  # only these tables
 * logins:                      # LOGIN roles inheriting from groups
 *   app_user:
 *     groups: [app_rw]
 *     connection_limit: 20
 *     statement_timeout: 30s
 *     idle_in_transaction_session_timeout: 60s
 *     lock_timeout: 5s
 *     valid_until: 2026-12-31T00:00:00Z
 *     password: { creds: prod }  # from pgwarden creds; generated and stored there when absent
 * ```
 */
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from 'yaml';
import type * as Zod from 'zod';
import { loadZod } from '../config/zod.js';
import { RolesError } from './roles-error.js';
import { objectNameProblem, roleNameProblem } from './role-name.js';

// One zod per process: config/zod.ts.
const z = loadZod();

export const PRESETS = ['app', 'readonly', 'migrator'] as const;
export type Preset = (typeof PRESETS)[number];

/** Attributes a file may ask for; the dangerous ones are refused after parsing, with their position. */
export const FORBIDDEN_ATTRIBUTES = ['SUPERUSER', 'BYPASSRLS', 'REPLICATION', 'CREATEROLE'] as const;
const ATTRIBUTES = ['CREATEDB', ...FORBIDDEN_ATTRIBUTES] as const;

/** A PostgreSQL duration: an integer with an optional unit (no unit means milliseconds). */
const duration = z
  .union([
    z.number().int().min(0),
    z.string().regex(/^\d+\s*(us|ms|s|min|h|d)?$/, 'expected a duration like 30s, 500ms or 5min'),
  ])
  .transform((v) => String(v).replace(/\s+/g, ''));

const roleName = z.string().superRefine((name, ctx) => {
  const problem = roleNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const objectName = z.string().superRefine((name, ctx) => {
  const problem = objectNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const attributes = z.array(z.enum(ATTRIBUTES)).default([]);

const groupSchema = z.strictObject({
  preset: z.enum(PRESETS),
  schemas: z.array(objectName).min(1),
  /**
   * Limits an `app` or `readonly` group to these tables (and views) of its
   * schemas, and the sequences they own: every other relation is revoked and
   * future tables get nothing (no default privileges).
   */
  tables: z.array(objectName).min(1).optional(),
  attributes,
});

const loginSchema = z.strictObject({
  groups: z.array(roleName).default([]),
  connection_limit: z.number().int().min(-1).max(100_000).optional(),
  statement_timeout: duration.optional(),
  idle_in_transaction_session_timeout: duration.optional(),
  lock_timeout: duration.optional(),
  valid_until: z
    .union([z.literal('infinity'), z.iso.datetime({ offset: true }), z.iso.date(), z.date()])
    // A bare date means midnight UTC, so the plan does not depend on the server's time zone.
    .transform((v) =>
      v instanceof Date ? v.toISOString() : /^\d{4}-\d\d-\d\d$/.test(v) ? `${v}T00:00:00Z` : v,
    )
    .optional(),
  password: z.strictObject({ creds: z.string().min(1) }).optional(),
  attributes,
});

export const rolesFileSchema = z.strictObject({
  version: z.literal(1).default(1),
  database: objectName.optional(),
  revoke_public: z.boolean().default(true),
  lock_databases: z.array(objectName).default([]),
  owner: roleName.optional(),
  groups: z.record(roleName, groupSchema).default({}),
  logins: z.record(roleName, loginSchema).default({}),
});

export type RolesFile = Zod.output<typeof rolesFileSchema>;
export type GroupSpec = RolesFile['groups'][string];
export type LoginSpec = RolesFile['logins'][string];

/** The session settings a login may set (`ALTER ROLE … SET`). */
export const LOGIN_SETTINGS = [
  'statement_timeout',
  'idle_in_transaction_session_timeout',
  'lock_timeout',
] as const;

/**
 * Parses and validates a roles file. `source` names it in messages.
 *
 * @throws RolesError `PGW_ROLES_FILE_INVALID` (line and column in the message)
 *   or `PGW_ROLES_FORBIDDEN_ATTRIBUTE`.
 */
export function parseRolesFile(text: string, source = 'roles.yaml'): RolesFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const at = syntax.linePos?.[0];
    const message = (syntax.message.split('\n')[0] ?? 'invalid YAML').replace(
      / at line \d+, column \d+:?$/,
      '',
    );
    throw invalid(source, at ? `${at.line}:${at.col}` : '1:1', message);
  }
  const result = rolesFileSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = (issue?.path ?? []).map((p) => (typeof p === 'symbol' ? String(p) : p));
    let where = position(doc, lineCounter, path);
    let message = issue?.message ?? 'invalid';
    if (issue?.code === 'unrecognized_keys') {
      const key = issue.keys[0] ?? '';
      where = keyPosition(doc, lineCounter, path, key) ?? where;
      message = `unknown key "${key}"`;
    } else if (issue?.code === 'invalid_key') {
      message = `invalid name: ${issue.issues[0]?.message ?? 'invalid'}`;
      where = keyPosition(doc, lineCounter, path.slice(0, -1), String(path[path.length - 1])) ?? where;
    }
    throw invalid(source, where, `${path.length ? `${path.join('.')}: ` : ''}${message}`);
  }
  const file = result.data;
  checkSemantics(file, doc, lineCounter, source);
  return file;
}

function checkSemantics(file: RolesFile, doc: Document, lc: LineCounter, source: string): void {
  for (const kind of ['groups', 'logins'] as const) {
    for (const [name, spec] of Object.entries<GroupSpec | LoginSpec>(file[kind])) {
      spec.attributes.forEach((attribute: string, i: number) => {
        if ((FORBIDDEN_ATTRIBUTES as readonly string[]).includes(attribute)) {
          throw new RolesError(
            'PGW_ROLES_FORBIDDEN_ATTRIBUTE',
            `${source}:${position(doc, lc, [kind, name, 'attributes', i])}: ${kind}.${name} asks for ${attribute}; application roles never get SUPERUSER, BYPASSRLS, REPLICATION or CREATEROLE.`,
            {
              option: `${kind}.${name}.attributes`,
              fix: `Remove ${attribute}; grant the specific privileges the role needs through a group instead.`,
            },
          );
        }
      });
    }
  }
  for (const [name, group] of Object.entries(file.groups)) {
    if (group.tables && group.preset === 'migrator') {
      throw invalid(
        source,
        keyPosition(doc, lc, ['groups', name], 'tables') ?? position(doc, lc, ['groups', name]),
        `groups.${name}.tables: a migrator owns every object of its schemas; tables: limits only app and readonly groups`,
      );
    }
  }
  for (const name of Object.keys(file.logins)) {
    if (file.groups[name]) {
      throw invalid(
        source,
        keyPosition(doc, lc, ['logins'], name) ?? '?',
        `"${name}" is both a group and a login`,
      );
    }
  }
  for (const [name, login] of Object.entries(file.logins)) {
    login.groups.forEach((group, i) => {
      if (!file.groups[group]) {
        throw invalid(
          source,
          position(doc, lc, ['logins', name, 'groups', i]),
          `logins.${name}.groups: "${group}" is not a group of this file`,
        );
      }
    });
  }
}

function invalid(source: string, where: string, message: string): RolesError {
  return new RolesError('PGW_ROLES_FILE_INVALID', `${source}:${where}: ${message}.`, {
    option: '--file',
    fix: 'Correct the file at that line and column (see docs/roles.md for the format).',
  });
}

/** `line:column` of the node at `path`, or of its closest existing parent. */
function position(doc: Document, lc: LineCounter, path: Array<string | number>): string {
  for (let i = path.length; i >= 0; i--) {
    const node = i === 0 ? doc.contents : doc.getIn(path.slice(0, i), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) {
      const { line, col } = lc.linePos(range[0]);
      return `${line}:${col}`;
    }
  }
  return '1:1';
}

/** `line:column` of the key `key` in the map at `path`. */
function keyPosition(
  doc: Document,
  lc: LineCounter,
  path: Array<string | number>,
  key: string,
): string | undefined {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(node)) return undefined;
  for (const item of node.items) {
    if (isPair(item) && isScalar(item.key) && String(item.key.value) === key && item.key.range) {
      const { line, col } = lc.linePos(item.key.range[0]);
      return `${line}:${col}`;
    }
  }
  return undefined;
}
