/**
 * Cuts a byte stream into frames of `frameSize` bytes, compresses each in
 * the worker pool, and emits them in their original order, each prefixed by
 * its compressed and uncompressed lengths (docs/backup-format.md, version
 * 2). At most `2 × workers` frames are in flight: enough that every worker
 * has its next frame waiting, few enough that memory stays a few MiB.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError } from '../backup-error.js';
import { FRAME_PREFIX_LENGTH, STREAM_BUFFER, maxCompressedFrame } from '../format/constants.js';
import { codecParams, retireAfter } from './codecs.js';
import { FramePool, type FrameResult } from './worker-pool.js';
import type { FramedCompression } from '../format/constants.js';

export interface FrameWriterOptions {
  compression: FramedCompression;
  frameSize: number;
  workers: number;
  /** Replace a worker after this many frames (default: codecs.ts `retireAfter`). */
  retireAfter?: number | undefined;
}

interface InFlight {
  readonly length: number;
  readonly result: Promise<FrameResult>;
  settled: boolean;
}

export class FrameWriter extends Transform {
  readonly #pool: FramePool;
  readonly #frameSize: number;
  readonly #maxInFlight: number;
  readonly #queue: InFlight[] = [];
  /** Frame buffers back from the workers, reused: no frame's memory is left to a garbage collector. */
  readonly #free: Buffer[] = [];
  #frame: Buffer;
  #fill = 0;
  #frames = 0;
  #compressedBytes = 0;

  constructor(options: FrameWriterOptions) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#pool = new FramePool(
      options.workers,
      codecParams(options.compression),
      options.retireAfter ?? retireAfter(options.compression),
    );
    this.#frameSize = options.frameSize;
    this.#maxInFlight = 2 * options.workers;
    this.#frame = Buffer.allocUnsafeSlow(this.#frameSize);
  }

  /** Workers of the pool not yet exited (0 once the stream has finished or was destroyed). */
  get liveWorkers(): number {
    return this.#pool.liveWorkers;
  }

  /** Worker threads that did work so far (at most the pool's size). */
  get threadsUsed(): number {
    return this.#pool.threadsUsed;
  }

  /** Frames written so far (all of them once the stream has finished). */
  get frames(): number {
    return this.#frames;
  }

  /** Compressed bytes written so far, frame prefixes included. */
  get compressedBytes(): number {
    return this.#compressedBytes;
  }

  get workers(): number {
    return this.#pool.size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(this.#frameSize - this.#fill, chunk.length - offset);
      chunk.copy(this.#frame, this.#fill, offset, offset + n);
      this.#fill += n;
      offset += n;
      if (this.#fill === this.#frameSize) this.#submit();
    }
    this.#drain(false).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#fill > 0) this.#submit();
    this.#drain(true)
      .then(() => this.#pool.close())
      .then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#pool.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  #submit(): void {
    const length = this.#fill;
    // The frame's memory moves to the worker (and comes back); the next frame takes a free buffer.
    const input = this.#frame.subarray(0, length);
    this.#frame = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#frameSize);
    this.#fill = 0;
    const entry: InFlight = {
      length,
      result: this.#pool.compress(input, maxCompressedFrame(this.#frameSize)),
      settled: false,
    };
    entry.result.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    );
    this.#queue.push(entry);
  }

  /** Pushes finished frames in order; waits while too many are in flight, or for all at the end. */
  async #drain(all: boolean): Promise<void> {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (!all && !head.settled && this.#queue.length < this.#maxInFlight) return;
      const { output, input } = await head.result;
      this.#queue.shift();
      if (input.length === this.#frameSize) this.#free.push(input);
      if (output.length === 0 || output.length > maxCompressedFrame(this.#frameSize)) {
        throw new BackupError(
          'PGW_BACKUP_IO_FAILED',
          `Frame ${this.#frames} compressed to ${output.length} bytes, outside the format's bounds.`,
          { fix: 'Report this as a bug; the partial backup was removed.' },
        );
      }
      const prefix = Buffer.allocUnsafe(FRAME_PREFIX_LENGTH);
      prefix.writeUInt32BE(output.length, 0);
      prefix.writeUInt32BE(head.length, 4);
      this.push(prefix);
      this.push(output);
      this.#frames += 1;
      this.#compressedBytes += FRAME_PREFIX_LENGTH + output.length;
    }
  }
}
