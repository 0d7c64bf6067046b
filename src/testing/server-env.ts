/**
 * The environment for initdb and postgres.
 *
 * PG* variables are dropped because the server binaries honour some of them
 * (PGDATA, PGPORT, PGHOST, PGOPTIONS…) and a developer's shell must not change
 * where or how a throwaway cluster runs. LC_ALL=C makes messages English and
 * stable, which the harness relies on when it reads the server log.
 */
export function serverEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!key.startsWith('PG') && !key.startsWith('LC_') && key !== 'LANG' && key !== 'LANGUAGE')
      env[key] = value;
  }
  env.LC_ALL = 'C';
  return env;
}
