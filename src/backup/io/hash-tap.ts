import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { STREAM_BUFFER } from '../format/constants.js';

/** Passes bytes through while counting them and hashing them with SHA-256. */
export class HashTap extends Transform {
  #hash: Hash = createHash('sha256');
  #bytes = 0;
  #digest: string | undefined;

  constructor() {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The hex SHA-256 of everything that passed; only once the stream has ended. */
  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    callback(null, chunk);
  }
}

const COALESCE_BYTES = 1024 * 1024;

/**
 * Counts bytes without hashing (the dump size before compression), and
 * coalesces the 64 KiB reads of a pipe into larger blocks while more input
 * is already queued: every later stage (a zlib thread-pool job, a cipher
 * call, a write) then runs once per block instead of once per read. When
 * nothing is queued the data passes at once, so a slow producer is not held
 * back.
 */
export class CountTap extends Transform {
  bytes = 0;
  /** Called once, with the first bytes: proof the producer has started. */
  onFirstBytes: (() => void) | undefined;
  /** Sees every chunk as it passes (create's row counter); what it throws is its own business, not the stream's. */
  observe: ((chunk: Buffer) => void) | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  readonly #coalesce: boolean;

  /**
   * @param options.coalesce Join reads into blocks (default true). Off when
   * the next stage cuts its own blocks (the frame writer copies into 1 MiB
   * frames): joining first would copy every byte once more for nothing.
   */
  constructor(options: { coalesce?: boolean } = {}) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#coalesce = options.coalesce ?? true;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.bytes === 0 && chunk.length > 0) this.onFirstBytes?.();
    this.bytes += chunk.length;
    if (this.observe) {
      try {
        this.observe(chunk);
      } catch {
        // the observer keeps its own failure (ArchiveRowCounter does) and reports it later
      }
    }
    if (!this.#coalesce) {
      callback(null, chunk);
      return;
    }
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    // writableLength: input already waiting behind this chunk.
    if (this.#pendingBytes >= COALESCE_BYTES || this.writableLength <= chunk.length) this.#release();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#release();
    callback();
  }

  #release(): void {
    if (this.#pendingBytes === 0) return;
    const block =
      this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.push(block);
  }
}
