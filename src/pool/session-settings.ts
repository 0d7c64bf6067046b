/**
 * The session timeouts a pool guarantees (statement_timeout, lock_timeout,
 * idle_in_transaction_session_timeout). Without a pooler they travel as
 * startup parameters. Behind one they cannot (PgBouncer refuses them, or
 * drops them when told to ignore them), so the role-level settings must give
 * them: the pool reads them back after connecting, and `transaction()` also
 * sets them for its own transaction with `SET LOCAL`.
 */
import type pg from 'pg';
import type { ResolvedConfig } from '../config/schema.js';

/** A requested timeout: the server's name for it and the option that asked for it. */
export interface SessionSetting {
  readonly name: 'statement_timeout' | 'lock_timeout' | 'idle_in_transaction_session_timeout';
  readonly option: string;
  readonly ms: number;
}

/** What the server has, where it differs from what was asked. */
export interface SessionSettingMismatch extends SessionSetting {
  /** The server's value in milliseconds (0 is "no timeout"). */
  readonly actualMs: number;
}

const SETTINGS = [
  ['statement_timeout', 'statementTimeoutMs'],
  ['lock_timeout', 'lockTimeoutMs'],
  ['idle_in_transaction_session_timeout', 'idleInTransactionSessionTimeoutMs'],
] as const;

/** The timeouts the configuration asks for, in the server's names. */
export function requestedSessionSettings(config: ResolvedConfig): SessionSetting[] {
  const out: SessionSetting[] = [];
  for (const [name, key] of SETTINGS) {
    const ms = config.session[key];
    if (ms !== undefined) out.push({ name, option: config.sources[key] ?? key, ms });
  }
  return out;
}

/**
 * Reads each requested timeout with one query (pg_settings gives these three
 * in milliseconds) and returns those that differ from the request.
 */
export async function sessionSettingMismatches(
  client: pg.ClientBase,
  config: ResolvedConfig,
): Promise<SessionSettingMismatch[]> {
  const requested = requestedSessionSettings(config);
  if (requested.length === 0) return [];
  const { rows } = await client.query<{ name: string; setting: string }>(
    'SELECT name, setting FROM pg_catalog.pg_settings WHERE name = ANY($1::text[])',
    [requested.map((r) => r.name)],
  );
  const actual = new Map(rows.map((row) => [row.name, Number(row.setting)]));
  return requested
    .filter((r) => actual.get(r.name) !== r.ms)
    .map((r) => ({ ...r, actualMs: actual.get(r.name) ?? Number.NaN }));
}

/** `SET LOCAL` of every requested timeout, for the first round trip of a transaction; undefined when none. */
export function setLocalStatements(config: ResolvedConfig): string | undefined {
  const requested = requestedSessionSettings(config);
  if (requested.length === 0) return undefined;
  // Integers only (the schema guarantees it): nothing here comes from outside as text.
  return requested.map((r) => `SET LOCAL ${r.name} = ${Math.trunc(r.ms)}`).join('; ');
}
