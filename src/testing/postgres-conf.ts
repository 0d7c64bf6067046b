import { ConfigError } from '../errors.js';

/** A postgresql.conf value. Strings are always written quoted. */
export type ConfValue = string | number | boolean;

/** postgresql.conf settings by name, e.g. `{ work_mem: '8MB', log_connections: true }`. */
export type ConfSettings = Readonly<Record<string, ConfValue>>;

/**
 * Settings the harness owns: it has to know the port and socket directory to
 * administer the cluster, and it guarantees the server only listens on
 * loopback. Use the `port` and `listen` options instead.
 */
const RESERVED = new Map<string, string>([
  ['port', 'Use the port option of startCluster.'],
  ['listen_addresses', 'Use the listen option of startCluster; only loopback addresses are allowed.'],
  ['unix_socket_directories', 'The harness administers the cluster through its own socket directory.'],
  ['data_directory', 'The harness owns the data directory.'],
  ['config_file', 'The harness owns postgresql.conf.'],
  ['hba_file', 'Use the hba option or Cluster.writeHba().'],
]);

// A GUC name, optionally prefixed by an extension name (`auto_explain.log_min_duration`).
const NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

/**
 * Checks names and values and returns the settings keyed by lower-case name
 * (PostgreSQL compares setting names case-insensitively).
 *
 * @throws ConfigError `PGW_CONFIG_INVALID` for a malformed or reserved name or an unwritable value.
 */
export function normalizeConf(settings: ConfSettings): Map<string, ConfValue> {
  const out = new Map<string, ConfValue>();
  for (const [rawName, value] of Object.entries(settings)) {
    const name = rawName.toLowerCase();
    if (!NAME.test(rawName)) {
      throw new ConfigError(
        'PGW_CONFIG_INVALID',
        `"${rawName}" is not a valid postgresql.conf setting name.`,
        {
          option: `conf.${rawName}`,
        },
      );
    }
    const reserved = RESERVED.get(name);
    if (reserved) {
      throw new ConfigError('PGW_CONFIG_INVALID', `The test harness manages the "${name}" setting itself.`, {
        option: `conf.${name}`,
        fix: reserved,
      });
    }
    formatConfValue(value, name); // validates
    out.set(name, value);
  }
  return out;
}

/**
 * Formats one value for postgresql.conf: booleans as `on`/`off`, numbers bare,
 * strings single-quoted with `'` doubled and `\` escaped (the file parser
 * treats backslash as an escape character inside quotes).
 */
export function formatConfValue(value: ConfValue, name = 'value'): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ConfigError('PGW_CONFIG_INVALID', `${name} must be a finite number.`, {
        option: `conf.${name}`,
      });
    }
    return String(value);
  }
  if (typeof value !== 'string') {
    throw new ConfigError('PGW_CONFIG_INVALID', `${name} must be a string, number or boolean.`, {
      option: `conf.${name}`,
    });
  }
  // A newline would end the value and start a new, unchecked line in the file.
  if (/[\r\n\0]/.test(value)) {
    throw new ConfigError('PGW_CONFIG_INVALID', `${name} must not contain line breaks or NUL.`, {
      option: `conf.${name}`,
    });
  }
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** `name = value` lines, one per setting, in insertion order. */
export function renderConfLines(settings: ReadonlyMap<string, ConfValue>): string {
  return [...settings].map(([name, value]) => `${name} = ${formatConfValue(value, name)}\n`).join('');
}

/**
 * The whole postgresql.conf: initdb's file untouched, then the harness's
 * settings, then the caller's. The file is rewritten as a whole rather than
 * appended to, so repeated setConf() calls stay readable; later lines win in
 * PostgreSQL, which is what lets caller settings override the harness.
 */
export function renderPostgresConf(
  initdbConf: string,
  harness: ReadonlyMap<string, ConfValue>,
  caller: ReadonlyMap<string, ConfValue>,
): string {
  const base = initdbConf.endsWith('\n') || initdbConf === '' ? initdbConf : `${initdbConf}\n`;
  return (
    `${base}\n# ---- pgwarden test harness (rewritten by the harness; edits are lost) ----\n` +
    renderConfLines(harness) +
    (caller.size > 0 ? `# ---- caller settings ----\n${renderConfLines(caller)}` : '')
  );
}
