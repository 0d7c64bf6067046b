import type { OptionKey } from './schema.js';

/** A warning found while reading configuration; emitted once by createPool. */
export interface ConfigWarning {
  readonly code:
    | 'PGW_CONFIG_UNKNOWN_KEY'
    | 'PGW_CONFIG_DEPRECATED'
    | 'PGW_SECRET_STALE'
    | `PGW_POLICY_${string}`
    | 'PGW_CONFIG_INVALID';
  readonly message: string;
  readonly option: string;
}

/**
 * One configuration source turned into option keys. `origins` names, for each
 * key, the variable or URL part the value came from, so errors can say
 * "DB_PORT" rather than "port".
 */
export interface ConfigLayer {
  readonly name: string;
  readonly values: Partial<Record<OptionKey, unknown>>;
  readonly origins: Partial<Record<OptionKey, string>>;
  readonly warnings: ConfigWarning[];
}

export function emptyLayer(name: string): ConfigLayer {
  return { name, values: {}, origins: {}, warnings: [] };
}

export function setValue(layer: ConfigLayer, key: OptionKey, value: unknown, origin: string): void {
  if (value === undefined || value === '') return;
  layer.values[key] = value;
  layer.origins[key] = origin;
}

/** Converts a seconds string to milliseconds, leaving bad input for the schema to reject. */
export function secondsToMs(raw: string): string | number {
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? Math.round(n * 1000) : raw;
}
