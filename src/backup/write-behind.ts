/**
 * Flushes a file being written to disk in the background, so the fsync that
 * makes the finished backup durable has little left to do: without it the
 * whole file (hundreds of MiB) waits in the page cache and the final fsync
 * holds up the end of `create` by a noticeable fraction of its run time.
 */
import { fdatasync, type WriteStream } from 'node:fs';

/**
 * Calls `fdatasync(fd)`, the stream's file, every `intervalMs`, never two at once,
 * until the stream finishes or is destroyed (both are known before its fd is
 * closed, so a closed or reused fd is never flushed). Returns a stop function.
 */
export function startWriteBehind(stream: WriteStream, fd: number, intervalMs = 500): () => void {
  let inFlight = false;
  const timer = setInterval(() => {
    if (stream.destroyed || stream.writableFinished) {
      clearInterval(timer);
      return;
    }
    if (inFlight) return;
    inFlight = true;
    // Errors surface at the final fsync, which is checked; here they only mean "try later".
    fdatasync(fd, () => {
      inFlight = false;
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
