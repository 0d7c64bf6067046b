/**
 * Reads the frames of a version-2 payload (after decryption: every byte here
 * was authenticated), decompresses them in the worker pool, and emits the
 * dump in order. Each frame is checked completely: its lengths within the
 * header's bounds, its decoder consuming every compressed byte (brotli's
 * decoder, and zstd's up to Node 22, stop at the end of their first stream
 * and ignore the rest; Node 24's zstd reads on, which the length check
 * below catches), and its output exactly the length its prefix states. A payload
 * ending inside a frame is refused.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { corrupt } from '../backup-error.js';
import { ByteQueue } from '../format/byte-queue.js';
import {
  FRAME_PREFIX_LENGTH,
  STREAM_BUFFER,
  maxCompressedFrame,
  type FramedCompression,
} from '../format/constants.js';
import { codecParams, retireAfter } from './codecs.js';
import { FrameCodecError, FramePool, type FrameResult } from './worker-pool.js';

export interface FrameReaderOptions {
  compression: FramedCompression;
  /** The header's `frameSize`: no frame may hold more. */
  frameSize: number;
  workers: number;
  /** Replace a worker after this many frames (default: codecs.ts `retireAfter`). */
  retireAfter?: number | undefined;
}

interface InFlight {
  readonly index: number;
  readonly compressed: number;
  readonly expected: number;
  readonly result: Promise<FrameResult>;
  settled: boolean;
}

export class FrameReader extends Transform {
  readonly #pool: FramePool;
  readonly #frameSize: number;
  readonly #maxCompressed: number;
  readonly #maxInFlight: number;
  readonly #input = new ByteQueue();
  readonly #queue: InFlight[] = [];
  /** Frame buffers back from the workers, reused (see worker-source.ts on memory). */
  readonly #free: Buffer[] = [];
  /** Lengths of the frame whose prefix was read and whose body is awaited. */
  #next: { compressed: number; expected: number } | undefined;
  #frames = 0;
  #emitted = 0;
  #bytes = 0;

  constructor(options: FrameReaderOptions) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#pool = new FramePool(
      options.workers,
      codecParams(options.compression),
      options.retireAfter ?? retireAfter(options.compression),
    );
    this.#frameSize = options.frameSize;
    this.#maxCompressed = maxCompressedFrame(options.frameSize);
    this.#maxInFlight = 2 * options.workers;
  }

  /** Workers of the pool not yet exited (0 once the stream has finished or was destroyed). */
  get liveWorkers(): number {
    return this.#pool.liveWorkers;
  }

  /** Worker threads that did work so far (at most the pool's size). */
  get threadsUsed(): number {
    return this.#pool.threadsUsed;
  }

  /** Frames decompressed and emitted so far. */
  get frames(): number {
    return this.#emitted;
  }

  /** Dump bytes emitted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#input.push(chunk);
      this.#parse();
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#drain(false).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#next !== undefined || this.#input.length > 0) {
      callback(
        corrupt(
          `The backup's payload ends inside frame ${this.#frames} (${this.#input.length} byte(s) of it present).`,
        ),
      );
      return;
    }
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

  #parse(): void {
    for (;;) {
      if (this.#next === undefined) {
        if (this.#input.length < FRAME_PREFIX_LENGTH) return;
        const prefix = this.#input.take(FRAME_PREFIX_LENGTH);
        const compressed = prefix.readUInt32BE(0);
        const expected = prefix.readUInt32BE(4);
        if (expected === 0 || expected > this.#frameSize) {
          throw corrupt(
            `Frame ${this.#frames} claims ${expected} bytes of dump; frames hold 1 to ${this.#frameSize}.`,
          );
        }
        if (compressed === 0 || compressed > this.#maxCompressed) {
          throw corrupt(
            `Frame ${this.#frames} claims ${compressed} compressed bytes; at most ${this.#maxCompressed} are valid.`,
          );
        }
        this.#next = { compressed, expected };
      }
      if (this.#input.length < this.#next.compressed) return;
      // Memory of its own, large enough for any frame: it moves to a worker and back.
      const buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#maxCompressed);
      const body = buffer.subarray(0, this.#next.compressed);
      this.#input.take(this.#next.compressed).copy(body);
      const entry: InFlight = {
        index: this.#frames,
        compressed: this.#next.compressed,
        expected: this.#next.expected,
        result: this.#pool.decompress(body, this.#next.expected),
        settled: false,
      };
      entry.result.then(
        () => (entry.settled = true),
        () => (entry.settled = true),
      );
      this.#queue.push(entry);
      this.#frames += 1;
      this.#next = undefined;
    }
  }

  async #drain(all: boolean): Promise<void> {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (!all && !head.settled && this.#queue.length < this.#maxInFlight) return;
      let result: FrameResult;
      try {
        result = await head.result;
      } catch (error) {
        if (error instanceof FrameCodecError) {
          throw corrupt(
            error.zlibCode === 'ERR_BUFFER_TOO_LARGE'
              ? `Frame ${head.index} decompresses to more than the ${head.expected} bytes its prefix says.`
              : `Frame ${head.index} does not decompress (${error.message}).`,
          );
        }
        throw error;
      }
      this.#queue.shift();
      if (result.input.length === this.#maxCompressed) this.#free.push(result.input);
      if (result.consumed !== head.compressed) {
        throw corrupt(
          `Frame ${head.index}: its decoder stopped after ${result.consumed} of ${head.compressed} compressed bytes; the rest would have been ignored.`,
        );
      }
      if (result.output.length !== head.expected) {
        throw corrupt(
          `Frame ${head.index} decompresses to ${result.output.length} bytes; its prefix says ${head.expected}.`,
        );
      }
      this.push(result.output);
      this.#emitted += 1;
      this.#bytes += result.output.length;
    }
  }
}
