/**
 * Progress reports of long operations, throttled; the CLI draws a bar or
 * prints JSON lines. Every report names its phase and, where a total is
 * known or estimated, a percentage and an ETA. An estimated total never
 * shows 100 % before the phase is done: the percentage is held at 99.
 */

export type ProgressPhase =
  /** create: pg_dump's archive read, compressed, encrypted and written. */
  | 'dump'
  /** verify level 1: the file's SHA-256. */
  | 'sha256'
  /** verify level 2: every chunk authenticated, decrypted, decompressed, read by pg_restore --list. */
  | 'decrypt'
  /** restore, verify level 3: the backup streamed into pg_restore. */
  | 'restore'
  /** restore, verify level 3: input complete, pg_restore still creating indexes and constraints. */
  | 'post-data'
  /** verify level 3: the restored tables counted. */
  | 'row-counts';

export interface BackupProgress {
  readonly operation: 'create' | 'verify' | 'restore';
  readonly phase: ProgressPhase;
  /** Bytes read so far in this phase: pg_dump output for create, backup file bytes for the others. */
  readonly bytes: number;
  /** The exact total of `bytes`, when known (the file size for verify and restore). */
  readonly totalBytes?: number | undefined;
  /**
   * create: the expected size of pg_dump's output, from the dumped tables'
   * `pg_table_size` (heap and TOAST). An estimate: the dump of compressible
   * TOASTed values can be larger, that of narrow rows smaller.
   */
  readonly estimatedTotalBytes?: number | undefined;
  /** Bytes written so far (the backup file, for create). */
  readonly writtenBytes?: number | undefined;
  /** row-counts: tables counted so far and in all. */
  readonly tables?: number | undefined;
  readonly totalTables?: number | undefined;
  /** Share of the phase done, 0-100 (one decimal); absent when nothing bounds it. Below 100 until `done`. */
  readonly percent?: number | undefined;
  /** Estimated time left in this phase, from the rate so far; absent when unknown. */
  readonly etaMs?: number | undefined;
  /** Time since the phase started. */
  readonly elapsedMs: number;
  readonly bytesPerSecond: number;
  /** True on the last report of the phase. */
  readonly done: boolean;
}

export type ProgressListener = (progress: BackupProgress) => void;

export interface ProgressSample {
  bytes: number;
  totalBytes?: number | undefined;
  estimatedTotalBytes?: number | undefined;
  writtenBytes?: number | undefined;
  tables?: number | undefined;
  totalTables?: number | undefined;
  /** Overrides the ticker's phase (restore moves on to `post-data`). */
  phase?: ProgressPhase | undefined;
}

/** Percentage and ETA of `done` out of `total`, held below 100 until the phase ends. */
export function shareOf(
  done: number,
  total: number | undefined,
  elapsedMs: number,
  finished: boolean,
): { percent?: number; etaMs?: number } {
  if (finished) return { percent: 100, etaMs: 0 };
  if (total === undefined || total <= 0) return {};
  const percent = Math.min(99, Math.floor((done / total) * 1000) / 10);
  if (done <= 0 || done >= total) return { percent };
  return { percent, etaMs: Math.round((elapsedMs * (total - done)) / done) };
}

/** Calls `listener` every `intervalMs` with a fresh sample, and once more when stopped. */
export function progressTicker(
  operation: BackupProgress['operation'],
  phase: ProgressPhase,
  listener: ProgressListener | undefined,
  sample: () => ProgressSample,
  intervalMs = 1_000,
): { stop(done: boolean): void } {
  if (!listener) return { stop: () => undefined };
  const started = Date.now();
  let stopped = false;
  const report = (done: boolean) => {
    const elapsedMs = Date.now() - started;
    const s = sample();
    const share =
      s.totalTables !== undefined
        ? shareOf(s.tables ?? 0, s.totalTables, elapsedMs, done)
        : shareOf(s.bytes, s.totalBytes ?? s.estimatedTotalBytes, elapsedMs, done);
    const { phase: override, ...rest } = s;
    listener({
      operation,
      phase: override ?? phase,
      ...rest,
      ...share,
      elapsedMs,
      bytesPerSecond: elapsedMs > 0 ? Math.round((s.bytes * 1000) / elapsedMs) : 0,
      done,
    });
  };
  const timer = setInterval(() => report(false), intervalMs);
  timer.unref();
  return {
    stop: (done) => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (done) report(true);
    },
  };
}
