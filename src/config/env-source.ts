/**
 * Turns environment variables into config layers: DATABASE_URL, then the DB_*
 * names of our users' guidelines, then libpq's PG* names.
 */
import { ConfigError } from '../errors.js';
import { emptyLayer, secondsToMs, setValue, type ConfigLayer, type ConfigWarning } from './layer.js';
import { closestName } from './suggest.js';
import { parseDatabaseUrl } from './url.js';
import { CONNECTION_VARIABLES, KNOWN_VARIABLE_NAMES, type VariableGroup } from './variables.js';

export type Env = Readonly<Record<string, string | undefined>>;

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/** Parses a boolean variable, or throws a coded error naming it. */
export function parseBooleanVariable(env: Env, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new ConfigError('PGW_CONFIG_INVALID', `${name}="${raw}" is not a boolean.`, {
    option: name,
    fix: `Set ${name} to true or false.`,
  });
}

function readGroup(env: Env, group: VariableGroup, name: string): ConfigLayer {
  const layer = emptyLayer(name);
  for (const spec of CONNECTION_VARIABLES) {
    if (spec.group !== group || !spec.option) continue;
    const raw = env[spec.name];
    if (raw === undefined || raw === '') continue;
    // The first variable listed for an option wins within a group (DB_POOL_MIN over DATABASE_POOL_SIZE).
    if (layer.values[spec.option] !== undefined) continue;
    setValue(layer, spec.option, spec.unit === 'seconds' ? secondsToMs(raw) : raw, spec.name);
  }
  return layer;
}

function readDbLayer(env: Env): ConfigLayer {
  const layer = readGroup(env, 'DB', 'DB_*');
  // DB_SSL / DB_SSL_REJECT_UNAUTHORIZED are node-postgres style switches; map
  // them onto libpq modes. Without a CA, "validate" means the system CA store,
  // which is what `rejectUnauthorized: true` did in the guidelines' code.
  const ssl = parseBooleanVariable(env, 'DB_SSL');
  const rejectUnauthorized = parseBooleanVariable(env, 'DB_SSL_REJECT_UNAUTHORIZED');
  if (ssl === false) {
    setValue(layer, 'sslMode', 'disable', 'DB_SSL');
  } else if (ssl === true || rejectUnauthorized !== undefined) {
    const origin = ssl === true ? 'DB_SSL' : 'DB_SSL_REJECT_UNAUTHORIZED';
    if (rejectUnauthorized === false) {
      setValue(layer, 'sslMode', 'require', 'DB_SSL_REJECT_UNAUTHORIZED');
    } else {
      setValue(layer, 'sslMode', 'verify-full', origin);
      if (layer.values.sslRootCert === undefined) setValue(layer, 'sslRootCert', 'system', origin);
    }
  }
  // SQLAlchemy semantics: pool_size persistent connections plus max_overflow extra ones.
  const size = env.DATABASE_POOL_SIZE;
  const overflow = env.DATABASE_MAX_OVERFLOW;
  if (layer.values.max === undefined && size !== undefined && size !== '') {
    const total = Number(size) + (overflow === undefined || overflow === '' ? 0 : Number(overflow));
    setValue(
      layer,
      'max',
      Number.isFinite(total) ? total : `${size}+${overflow}`,
      'DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW',
    );
  }
  return layer;
}

/** Warns about DB_*, DATABASE_* and PG* variables that look like typos of known ones. */
function unknownVariableWarnings(env: Env): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const name of Object.keys(env)) {
    if (!/^(DB_|DATABASE_|PG)/.test(name) || KNOWN_VARIABLE_NAMES.has(name)) continue;
    const guess = closestName(name, KNOWN_VARIABLE_NAMES);
    if (!guess) continue;
    warnings.push({
      code: 'PGW_CONFIG_UNKNOWN_KEY',
      option: name,
      message: `Unknown variable ${name} is ignored; did you mean ${guess}?`,
    });
  }
  return warnings;
}

/** The environment's layers, highest precedence first. */
export function readEnvLayers(env: Env): ConfigLayer[] {
  const layers: ConfigLayer[] = [];
  if (env.DATABASE_URL) layers.push(parseDatabaseUrl(env.DATABASE_URL, 'DATABASE_URL'));
  const db = readDbLayer(env);
  db.warnings.push(...unknownVariableWarnings(env));
  layers.push(db, readGroup(env, 'PG', 'PG*'));
  return layers;
}
