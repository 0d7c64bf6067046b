/**
 * The manifest's row counts during create. The tables are those of
 * TABLES_SQL, read in the exported snapshot as before; their rows are
 * counted from the COPY data streaming out of pg_dump (archive/row-counter.ts)
 * instead of by `count(*)` scans in a second backend, which read every
 * table a second time. The guarantee is unchanged, "counted in the dump's
 * snapshot": these are the rows the dump holds.
 *
 * Queries still count where the stream cannot: an archive the counter cannot
 * follow (pg_dump compressed it, an unknown archive version), and any table
 * without data in the archive. Both are known from the table of contents,
 * which pg_dump writes before any data: the exporting transaction is still
 * open then, so those counts come from the same snapshot too.
 */
import type pg from 'pg';
import { BackupError } from './backup-error.js';
import { ArchiveRowCounter } from './archive/row-counter.js';
import type { TableCount } from './manifest.js';
import { countRows, countTable, TABLES_SQL } from './row-counts.js';

function failed(what: string, error: unknown): BackupError {
  return new BackupError(
    'PGW_BACKUP_DUMP_FAILED',
    `Counting the rows of the tables to dump failed: ${what}${error instanceof Error ? `: ${error.message}` : ''}`,
    {
      fix: 'The role needs SELECT on every table pg_dump dumps (or pass rowCounts: false).',
      cause: error,
    },
  );
}

export class DumpRowCounts {
  /** Fed with pg_dump's output (create's CountTap). */
  readonly counter = new ArchiveRowCounter();
  /** Resolves when the table of contents was read, or the archive found unfollowable. */
  readonly tocRead: Promise<void>;
  #tables: Array<{ schema: string; name: string; dumpId?: number; rows?: number }> | undefined;
  /** How the rows were counted, for the tests and the result. */
  method: 'stream' | 'queries' | undefined;

  constructor() {
    this.tocRead = new Promise<void>((resolve) => {
      this.counter.onToc = resolve;
    });
  }

  /**
   * In the exporting transaction, once the table of contents is read (the
   * caller waits for `tocRead`): lists the tables and counts with queries
   * what the stream will not.
   */
  async inSnapshot(client: pg.ClientBase): Promise<void> {
    let tables: Array<{ schema: string; name: string }>;
    try {
      tables = (await client.query<{ schema: string; name: string }>(TABLES_SQL)).rows;
    } catch (error) {
      throw failed('listing the tables', error);
    }
    if (this.counter.unsupported !== undefined || this.counter.tables === undefined) {
      this.method = 'queries';
      try {
        this.#tables = await countRows(client);
      } catch (error) {
        throw failed('count(*)', error);
      }
      return;
    }
    this.method = 'stream';
    const inArchive = new Map(this.counter.tables.map((t) => [`${t.schema}\0${t.name}`, t.dumpId]));
    this.#tables = [];
    for (const { schema, name } of tables) {
      const dumpId = inArchive.get(`${schema}\0${name}`);
      if (dumpId !== undefined) this.#tables.push({ schema, name, dumpId });
      else {
        try {
          this.#tables.push({ schema, name, rows: await countTable(client, schema, name) });
        } catch (error) {
          throw failed(`count(*) of ${schema}.${name}`, error);
        }
      }
    }
  }

  /** After pg_dump exited successfully: the archive ended cleanly, and the counts. */
  result(): TableCount[] {
    if (this.method === 'stream') {
      try {
        this.counter.end();
      } catch (error) {
        throw failed('following the archive', error);
      }
    }
    return (this.#tables ?? []).map(({ schema, name, dumpId, rows }) => ({
      schema,
      name,
      rows: rows ?? this.counter.rowsOf(dumpId!),
    }));
  }
}
