/**
 * Slow statements from pg_stat_statements, or the reason they are missing
 * and how to fix it. The extension has two halves that are easy to half-do:
 * the library must be preloaded (a restart) and the extension created in the
 * database being monitored.
 */
import type pg from 'pg';
import { redactQueryText } from './query-text.js';
import { statementsSql } from './snapshot-sql.js';

export interface SlowStatement {
  readonly queryId: string | null;
  readonly user: string | null;
  readonly database: string | null;
  readonly calls: number;
  readonly meanMs: number;
  readonly maxMs: number;
  readonly totalMs: number;
  readonly rows: number;
  /** Normalized by pg_stat_statements, then masked and redacted. */
  readonly query: string | null;
}

export type SlowStatements =
  | {
      readonly available: true;
      readonly extensionVersion: string;
      /** Slowest mean execution time first. */
      readonly statements: readonly SlowStatement[];
    }
  | { readonly available: false; readonly hint: string };

export interface ReadStatementsOptions {
  extension: { version: string; schema: string } | null;
  versionNum: number;
  database: string;
  limit: number;
  textLength: number;
}

const ENABLE =
  "add pg_stat_statements to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'pg_stat_statements') and restart the server";

export async function readSlowStatements(
  client: pg.ClientBase,
  options: ReadStatementsOptions,
): Promise<SlowStatements> {
  const { extension, database } = options;
  if (!extension) {
    return {
      available: false,
      hint: `Slow queries need pg_stat_statements, which is not installed in database ${database}: ${ENABLE}, then run CREATE EXTENSION pg_stat_statements; in ${database}.`,
    };
  }
  if (options.limit <= 0) return { available: true, extensionVersion: extension.version, statements: [] };
  try {
    const result = await client.query<Record<string, unknown>>(
      statementsSql(extension.schema, options.versionNum),
      [options.limit],
    );
    return {
      available: true,
      extensionVersion: extension.version,
      statements: result.rows.map((row) => ({
        queryId: (row.queryId as string | null) ?? null,
        user: (row.user as string | null) ?? null,
        database: (row.database as string | null) ?? null,
        calls: Number(row.calls ?? 0),
        meanMs: Number(row.meanMs ?? 0),
        maxMs: Number(row.maxMs ?? 0),
        totalMs: Number(row.totalMs ?? 0),
        rows: Number(row.rows ?? 0),
        query: redactQueryText(row.query as string | null, options.textLength),
      })),
    };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    // 55000: "pg_stat_statements must be loaded via shared_preload_libraries"
    if (e.code === '55000' || /shared_preload_libraries/.test(e.message ?? '')) {
      return {
        available: false,
        hint: `The pg_stat_statements extension exists in ${database} but its library is not loaded: ${ENABLE}.`,
      };
    }
    if (e.code === '42501') {
      return {
        available: false,
        hint: `This role may not read pg_stat_statements: GRANT pg_read_all_stats to it, or run monitor as a role that has it.`,
      };
    }
    return {
      available: false,
      hint: `pg_stat_statements could not be read (SQLSTATE ${e.code ?? 'unknown'}); check that the extension is up to date (ALTER EXTENSION pg_stat_statements UPDATE;).`,
    };
  }
}
