/**
 * Extensions and functions of the connected database: untrusted languages,
 * risky or outdated extensions, extensions installed into public, and
 * SECURITY DEFINER functions that can be hijacked or are callable by anyone.
 */
import { cis, defineArea, fail, pass, pgDocs } from '../check.js';
import { ident } from '../sql-text.js';

export interface ExtensionsFacts {
  readonly database: string;
  readonly untrustedLanguages: readonly string[];
  readonly extensions: readonly { name: string; version: string; latest: string | null; schema: string }[];
  readonly definers: readonly {
    signature: string;
    owner: string;
    searchPath: boolean;
    publicExecute: boolean;
  }[];
}

export const RISKY_EXTENSIONS: Readonly<Record<string, string>> = {
  dblink: 'opens connections to other servers from SQL (and can be abused to reach internal hosts)',
  postgres_fdw: 'opens connections to other servers from SQL',
  file_fdw: 'reads server files and program output',
  adminpack: 'reads and writes server files',
};

const EXTENSIONS_SQL = `SELECT json_build_object(
  'database', current_database(),
  'untrustedLanguages', (SELECT coalesce(json_agg(lanname ORDER BY lanname), '[]'::json) FROM pg_catalog.pg_language
    WHERE NOT lanpltrusted AND lanname NOT IN ('internal', 'c')),
  'extensions', (SELECT coalesce(json_agg(json_build_object('name', e.extname, 'version', e.extversion,
      'latest', a.default_version, 'schema', n.nspname) ORDER BY e.extname), '[]'::json)
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    LEFT JOIN pg_catalog.pg_available_extensions a ON a.name = e.extname),
  'definers', (SELECT coalesce(json_agg(json_build_object('signature', p.oid::pg_catalog.regprocedure::text,
      'owner', pg_catalog.pg_get_userbyid(p.proowner),
      'searchPath', EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%'),
      'publicExecute', EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) ORDER BY 1), '[]'::json)
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND d.objid = p.oid AND d.deptype = 'e'))
) AS facts`;

const FUNCTIONS = [cis('4.5', 'excessive function privileges')];

export const extensionsArea = defineArea<ExtensionsFacts>({
  area: 'extensions',
  needsConnection: true,
  async gather({ session }) {
    return (await session!.query<{ facts: ExtensionsFacts }>(EXTENSIONS_SQL))[0]!.facts;
  },
  checks: [
    {
      id: 'ext.untrusted-language',
      severity: 'high',
      title: 'No untrusted procedural language is installed',
      rationale:
        'Untrusted languages (plpython3u, plperlu, …) run arbitrary code as the server OS user; one superuser mistake becomes host compromise.',
      remediation:
        'DROP EXTENSION plpython3u;  -- or DROP LANGUAGE for languages created without an extension',
      references: [pgDocs('xplang.html')],
      evaluate(facts) {
        if (facts.untrustedLanguages.length === 0)
          return pass(`No untrusted language in ${facts.database} besides internal and C.`);
        return fail(
          `Untrusted languages in ${facts.database}: ${facts.untrustedLanguages.join(', ')}.`,
          facts.untrustedLanguages.map((l) => ({ type: 'language', name: l, value: 'untrusted' })),
          {
            remediation: facts.untrustedLanguages
              .map((l) => `DROP LANGUAGE ${ident(l)};  -- or DROP EXTENSION ${ident(l)};`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'ext.in-public-schema',
      severity: 'low',
      title: 'Extensions live outside the public schema',
      rationale:
        'Extension objects in public mix with application objects and are exposed through every search_path.',
      remediation: 'CREATE SCHEMA extensions; ALTER EXTENSION name SET SCHEMA extensions;',
      references: [pgDocs('sql-createextension.html')],
      evaluate(facts) {
        const inPublic = facts.extensions.filter((e) => e.schema === 'public');
        if (inPublic.length === 0) return pass(`No extension of ${facts.database} is installed in public.`);
        return fail(
          `Extensions in public: ${inPublic.map((e) => e.name).join(', ')}.`,
          inPublic.map((e) => ({ type: 'extension', name: e.name, value: 'schema public' })),
          {
            remediation: `CREATE SCHEMA IF NOT EXISTS extensions;\n${inPublic.map((e) => `ALTER EXTENSION ${ident(e.name)} SET SCHEMA extensions;`).join('\n')}`,
          },
        );
      },
    },
    {
      id: 'ext.outdated',
      severity: 'low',
      title: 'Installed extensions are at their packaged version',
      rationale:
        'An extension left at an old version after a package upgrade misses the fixes of its new SQL scripts, security ones included.',
      remediation: 'ALTER EXTENSION name UPDATE;',
      references: [pgDocs('sql-alterextension.html')],
      evaluate(facts) {
        const old = facts.extensions.filter((e) => e.latest !== null && e.version !== e.latest);
        if (old.length === 0)
          return pass(
            `All ${facts.extensions.length} extension(s) of ${facts.database} are at their default version.`,
          );
        return fail(
          `Outdated: ${old.map((e) => `${e.name} ${e.version} (available ${e.latest})`).join(', ')}.`,
          old.map((e) => ({ type: 'extension', name: e.name, value: `${e.version} < ${e.latest}` })),
          {
            remediation: old.map((e) => `ALTER EXTENSION ${ident(e.name)} UPDATE;`).join('\n'),
          },
        );
      },
    },
    {
      id: 'ext.risky',
      severity: 'medium',
      title: 'No extension reaches outside the database',
      rationale:
        'dblink and postgres_fdw open connections from the server (SSRF, credential relay); file_fdw and adminpack touch server files.',
      remediation:
        'DROP EXTENSION name;  -- or restrict who may use it and suppress the finding with the reason',
      references: [pgDocs('contrib.html')],
      evaluate(facts) {
        const risky = facts.extensions.filter((e) => e.name in RISKY_EXTENSIONS);
        if (risky.length === 0)
          return pass(
            `None of ${Object.keys(RISKY_EXTENSIONS).join(', ')} is installed in ${facts.database}.`,
          );
        return fail(
          `Risky extensions: ${risky.map((e) => `${e.name} (${RISKY_EXTENSIONS[e.name]})`).join('; ')}.`,
          risky.map((e) => ({ type: 'extension', name: e.name, value: RISKY_EXTENSIONS[e.name]! })),
          {
            remediation: risky.map((e) => `DROP EXTENSION ${ident(e.name)};`).join('\n'),
          },
        );
      },
    },
    {
      id: 'fn.security-definer-search-path',
      severity: 'high',
      title: 'SECURITY DEFINER functions pin their search_path',
      rationale:
        "Without SET search_path a caller can put a schema with look-alike functions or operators first and run code with the owner's rights.",
      remediation: 'ALTER FUNCTION schema.fn(args) SET search_path = pg_catalog, pg_temp;',
      cis: FUNCTIONS,
      references: [pgDocs('sql-createfunction.html#SQL-CREATEFUNCTION-SECURITY')],
      evaluate(facts) {
        const bad = facts.definers.filter((f) => !f.searchPath);
        if (bad.length === 0)
          return pass(
            `All ${facts.definers.length} SECURITY DEFINER function(s) of ${facts.database} set search_path.`,
          );
        return fail(
          `SECURITY DEFINER without search_path: ${bad.map((f) => `${f.signature} (owner ${f.owner})`).join(', ')}.`,
          bad.map((f) => ({ type: 'function', name: f.signature, value: `owner ${f.owner}` })),
          {
            remediation: bad
              .map((f) => `ALTER FUNCTION ${f.signature} SET search_path = pg_catalog, pg_temp;`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'fn.security-definer-public-exec',
      severity: 'medium',
      title: 'SECURITY DEFINER functions are not executable by PUBLIC',
      rationale: "Functions run with their owner's rights; by default every role may execute a new function.",
      remediation:
        'REVOKE EXECUTE ON FUNCTION schema.fn(args) FROM PUBLIC; GRANT EXECUTE ON FUNCTION schema.fn(args) TO the_role;',
      cis: FUNCTIONS,
      references: [pgDocs('sql-createfunction.html#SQL-CREATEFUNCTION-SECURITY')],
      evaluate(facts) {
        const open = facts.definers.filter((f) => f.publicExecute);
        if (open.length === 0)
          return pass(`No SECURITY DEFINER function of ${facts.database} is executable by PUBLIC.`);
        return fail(
          `Executable by PUBLIC: ${open.map((f) => `${f.signature} (owner ${f.owner})`).join(', ')}.`,
          open.map((f) => ({
            type: 'function',
            name: f.signature,
            value: `owner ${f.owner}, EXECUTE to PUBLIC`,
          })),
          {
            remediation: open.map((f) => `REVOKE EXECUTE ON FUNCTION ${f.signature} FROM PUBLIC;`).join('\n'),
          },
        );
      },
    },
  ],
});
