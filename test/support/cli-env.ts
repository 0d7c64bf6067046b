// The environment a test gives a CLI child: this process's, without anything
// that would point the child at a server or an environment of its own
// (PG*, DB_*, DATABASE_*, APP_ENV, NODE_ENV, ENVIRONMENT), and without the
// variables of any other service the test names (`also`, e.g. AWS_, VAULT_):
// the child must see only what the test sets.
const CONNECTION_VARIABLE = /^(PG|DB_|DATABASE_|APP_ENV|NODE_ENV|ENVIRONMENT)/;

export function withoutConnectionVariables(
  also: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([name]) => !CONNECTION_VARIABLE.test(name) && !also.some((prefix) => name.startsWith(prefix)),
    ),
  );
}
