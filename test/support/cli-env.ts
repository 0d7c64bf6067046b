// The environment a test gives a CLI child: this process's, without anything
// that would point the child at a server or an environment of its own
// (PG*, DB_*, DATABASE_*, APP_ENV, NODE_ENV, ENVIRONMENT).
const CONNECTION_VARIABLE = /^(PG|DB_|DATABASE_|APP_ENV|NODE_ENV|ENVIRONMENT)/;

export function withoutConnectionVariables(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !CONNECTION_VARIABLE.test(name)));
}
