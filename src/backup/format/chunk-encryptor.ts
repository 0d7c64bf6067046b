/**
 * Splits a byte stream into fixed-size plaintext chunks and seals each with
 * AES-256-GCM. The header goes out first and is the additional data of every
 * chunk; the last chunk carries a flag in its nonce, so a file cut at a chunk
 * boundary does not read as complete (WAL-G's failure mode). Memory is one
 * chunk whatever the stream's length.
 */
import { createCipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError } from '../backup-error.js';
import { MAX_CHUNKS, NONCE_PREFIX_LENGTH, STREAM_BUFFER, TAG_LENGTH } from './constants.js';
import { chunkNonce } from './derive.js';
import type { EncodedHeader } from './header.js';

export interface ChunkEncryptorOptions {
  header: EncodedHeader;
  /** The AES-256-GCM key derived from the data key (derive.ts `payloadKey`). */
  payloadKey: Buffer;
}

export class ChunkEncryptor extends Transform {
  readonly #key: Buffer;
  readonly #aad: Buffer;
  readonly #prefix: Buffer;
  readonly #chunkSize: number;
  readonly #buffer: Buffer;
  #fill = 0;
  #index = 0;
  #plaintextBytes = 0;
  #headerPushed = false;

  constructor(options: ChunkEncryptorOptions) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#aad = options.header.bytes;
    this.#key = options.payloadKey;
    this.#prefix = Buffer.from(options.header.header.noncePrefix, 'base64');
    if (this.#prefix.length !== NONCE_PREFIX_LENGTH) throw new RangeError('nonce prefix length');
    this.#chunkSize = options.header.header.chunkSize;
    this.#buffer = Buffer.allocUnsafe(this.#chunkSize);
  }

  /** Chunks written so far (all of them once the stream has finished). */
  get chunks(): number {
    return this.#index;
  }

  /** Plaintext bytes sealed so far. */
  get plaintextBytes(): number {
    return this.#plaintextBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#pushHeader();
      // Records sealed from one input block go out as one buffer, joined once: one write downstream.
      const sealed: Buffer[] = [];
      let offset = 0;
      while (offset < chunk.length) {
        // A full buffer is sealed only when more data arrives: only then is it known not to be the last.
        if (this.#fill === this.#chunkSize) sealed.push(...this.#seal(false));
        const n = Math.min(this.#chunkSize - this.#fill, chunk.length - offset);
        chunk.copy(this.#buffer, this.#fill, offset, offset + n);
        this.#fill += n;
        offset += n;
      }
      if (sealed.length > 0) this.push(Buffer.concat(sealed));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#pushHeader();
      this.push(Buffer.concat(this.#seal(true)));
      this.#key.fill(0);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /**
   * A run that fails or is aborted destroys the stream without a flush: the
   * key (and the plaintext waiting for its chunk) must not outlive it either.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#key.fill(0);
    this.#buffer.fill(0);
    callback(error);
  }

  #pushHeader(): void {
    if (this.#headerPushed) return;
    this.#headerPushed = true;
    this.push(this.#aad);
  }

  /** Seals the buffered chunk: its ciphertext and its tag, the record as it is written. */
  #seal(last: boolean): [Buffer, Buffer] {
    if (this.#index >= MAX_CHUNKS) {
      throw new BackupError('PGW_BACKUP_UNSUPPORTED', 'The dump exceeds the 2^32 chunks a backup can hold.', {
        fix: 'Split the backup (pg_dump --table / --schema) into several.',
      });
    }
    const cipher = createCipheriv('aes-256-gcm', this.#key, chunkNonce(this.#prefix, this.#index, last), {
      authTagLength: TAG_LENGTH,
    });
    cipher.setAAD(this.#aad);
    const sealed = cipher.update(this.#buffer.subarray(0, this.#fill));
    cipher.final();
    this.#plaintextBytes += this.#fill;
    this.#index += 1;
    this.#fill = 0;
    return [sealed, cipher.getAuthTag()];
  }
}
