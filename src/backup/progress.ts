/** Progress reports of long operations, throttled; the CLI draws a bar or prints JSON lines. */

export interface BackupProgress {
  readonly operation: 'create' | 'verify' | 'restore';
  /** Bytes read so far: pg_dump output for create, backup file bytes for verify and restore. */
  readonly bytes: number;
  /** Known for verify and restore (the file size). */
  readonly totalBytes?: number | undefined;
  /** Bytes written so far (the backup file, for create). */
  readonly writtenBytes?: number | undefined;
  readonly elapsedMs: number;
  readonly bytesPerSecond: number;
  /** True on the last report. */
  readonly done: boolean;
}

export type ProgressListener = (progress: BackupProgress) => void;

/** Calls `listener` every `intervalMs` with a fresh sample, and once more when stopped. */
export function progressTicker(
  operation: BackupProgress['operation'],
  listener: ProgressListener | undefined,
  sample: () => { bytes: number; totalBytes?: number | undefined; writtenBytes?: number | undefined },
  intervalMs = 1_000,
): { stop(done: boolean): void } {
  if (!listener) return { stop: () => undefined };
  const started = Date.now();
  const report = (done: boolean) => {
    const elapsedMs = Date.now() - started;
    const s = sample();
    listener({
      operation,
      ...s,
      elapsedMs,
      bytesPerSecond: elapsedMs > 0 ? Math.round((s.bytes * 1000) / elapsedMs) : 0,
      done,
    });
  };
  const timer = setInterval(() => report(false), intervalMs);
  timer.unref();
  return {
    stop: (done) => {
      clearInterval(timer);
      if (done) report(true);
    },
  };
}
