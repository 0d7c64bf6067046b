/**
 * A reader that went away (`pgwarden backup create --help | head -3`, a
 * log shipper that died) makes writes to stdout or stderr fail with EPIPE,
 * which Node turns into a crash with a stack trace. Whether the reader is
 * still there is not the command's business: a backup finishes and is
 * recorded, and the exit code says how the work went, whoever reads it.
 * Any other error on those streams still crashes, as before.
 */
const GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

export function ignoreClosedOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!GONE.has(error.code ?? '')) throw error;
    });
  }
}
