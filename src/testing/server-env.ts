import type { ChildEnvOptions } from '../process/child-process.js';

/**
 * The environment for initdb and postgres: the allow-list of
 * src/process/child-process.ts (a developer's VAULT_TOKEN has no business in
 * a throwaway server) without the locale, plus LC_ALL=C.
 *
 * PG* variables never pass the allow-list, and must not: the server binaries
 * honour some of them (PGDATA, PGPORT, PGHOST, PGOPTIONS…) and a developer's
 * shell must not change where or how a throwaway cluster runs. LC_ALL=C makes
 * messages English and stable, which the harness relies on when it reads the
 * server log.
 */
export function serverEnv(base: NodeJS.ProcessEnv = process.env): ChildEnvOptions {
  const inherit = Object.fromEntries(
    Object.entries(base).filter(([key]) => key !== 'LANG' && key !== 'LANGUAGE' && !key.startsWith('LC_')),
  );
  return { inherit, set: { LC_ALL: 'C' } };
}
