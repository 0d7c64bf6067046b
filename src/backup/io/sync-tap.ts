import { fdatasync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { STREAM_BUFFER } from '../format/constants.js';

/** Bytes written between two background fdatasync calls. */
export const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

/**
 * Passes bytes through to the file stream after it and, every 64 MiB,
 * starts an fdatasync of that file without waiting for it (one at a time).
 * The file must be on disk before the backup is renamed into place, and a
 * single fsync at the end waited 75-95 ms for everything still dirty while
 * nothing else ran (bench/README.md#backup); written back as it goes, the
 * final fsync finds 5-25 ms of work. That final fsync stays the guarantee:
 * a background sync is only a head start, but one that fails fails the
 * stream (an I/O error is not an optimisation to skip). The stream ends
 * only once no sync is in flight, so the descriptor is never synced after
 * the file stream has closed it.
 */
export class SyncTap extends Transform {
  readonly #fd: number;
  readonly #everyBytes: number;
  readonly #sync: typeof fdatasync;
  #sinceSync = 0;
  #inFlight: Promise<void> | undefined;
  #failure: Error | undefined;

  /** @param sync fs.fdatasync; a test passes one that records its calls. */
  constructor(fd: number, everyBytes = SYNC_EVERY_BYTES, sync: typeof fdatasync = fdatasync) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#fd = fd;
    this.#everyBytes = everyBytes;
    this.#sync = sync;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#failure) return callback(this.#failure);
    this.#sinceSync += chunk.length;
    if (this.#sinceSync >= this.#everyBytes && !this.#inFlight) {
      this.#sinceSync = 0;
      this.#inFlight = new Promise<void>((resolve) => {
        this.#sync(this.#fd, (error) => {
          if (error) this.#failure ??= error;
          this.#inFlight = undefined;
          resolve();
        });
      });
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    void (this.#inFlight ?? Promise.resolve()).then(() => callback(this.#failure));
  }
}
