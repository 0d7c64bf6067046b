/**
 * Environment variables in an alerts config file: `${NAME}` and
 * `${NAME:-default}` in any string value, as a shell expands them, so one
 * committed file serves every host (`${PGLOG}/postgresql.csv`,
 * `${BACKUP_DIR:-/var/backups/app}`). `$${` writes a literal `${`; a `$`
 * not followed by `{` is kept as it is.
 *
 * An unset or empty variable without a default is an error naming the key
 * and the variable: an empty log path would read the wrong file, or none,
 * and say nothing.
 */
import { AlertsError } from './alerts-error.js';

const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function expandString(text: string, env: NodeJS.ProcessEnv, key: string, where: string): string {
  return text.replace(REFERENCE, (match: string, inner: string | undefined) => {
    if (match === '$${') return '${';
    if (!match.endsWith('}')) {
      throw new AlertsError('PGW_ALERTS_CONFIG_INVALID', `${where}: ${key} has a "\${" without its "}".`, {
        option: key,
        fix: 'Write ${NAME} or ${NAME:-default}; $${ is a literal "${".',
      });
    }
    const text = inner ?? '';
    const separator = text.indexOf(':-');
    const name = separator === -1 ? text : text.slice(0, separator);
    if (!NAME.test(name)) {
      throw new AlertsError(
        'PGW_ALERTS_CONFIG_INVALID',
        `${where}: ${key} refers to "\${${text}}", which is not a variable name.`,
        {
          option: key,
          fix: 'Write ${NAME} or ${NAME:-default}, NAME made of letters, digits and _.',
        },
      );
    }
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (separator !== -1) return text.slice(separator + 2);
    throw new AlertsError(
      'PGW_ALERTS_CONFIG_INVALID',
      `${where}: ${key} uses \${${name}}, which is not set in the environment.`,
      {
        option: key,
        fix: `Set ${name} (export ${name}=...), or give the key a default: \${${name}:-/some/path}.`,
      },
    );
  });
}

/**
 * Expands variables in every string of a parsed YAML document; keys and
 * non-string values are left alone. `where` names the file in errors.
 *
 * @throws AlertsError `PGW_ALERTS_CONFIG_INVALID` for an unset variable or a malformed reference.
 */
export function expandConfigVariables(
  value: unknown,
  env: NodeJS.ProcessEnv,
  where: string,
  key = '(top level)',
): unknown {
  if (typeof value === 'string') return expandString(value, env, key, where);
  if (Array.isArray(value)) {
    return value.map((item, i) => expandConfigVariables(item, env, where, `${key}.${i}`));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        expandConfigVariables(v, env, where, key === '(top level)' ? k : `${key}.${k}`),
      ]),
    );
  }
  return value;
}
