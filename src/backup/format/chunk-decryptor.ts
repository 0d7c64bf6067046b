/**
 * Reads a backup file stream: parses the header (bounds checked before
 * buffering), asks for the data key, then opens every chunk in order. Only
 * authenticated plaintext is ever pushed downstream. A record is known to be
 * non-final only when more bytes follow it, so a file cut at any offset,
 * including exactly at a chunk boundary, fails: its new last chunk lacks the
 * final flag.
 */
import { createDecipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { corrupt } from '../backup-error.js';
import { ByteQueue } from './byte-queue.js';
import { PRELUDE_LENGTH, STREAM_BUFFER, TAG_LENGTH, type FormatVersion } from './constants.js';
import { chunkNonce, payloadKey } from './derive.js';
import { parseHeaderJson, parsePrelude, type EncodedHeader } from './header.js';

export interface ChunkDecryptorOptions {
  /**
   * Called once with the header; returns the file's data key (unwrapped by a
   * key source). It may throw, e.g. when the header does not match the manifest.
   */
  openKey: (header: EncodedHeader) => Promise<Buffer>;
}

type State = 'prelude' | 'header' | 'chunks';

export class ChunkDecryptor extends Transform {
  readonly #openKey: ChunkDecryptorOptions['openKey'];
  readonly #queue = new ByteQueue();
  #state: State = 'prelude';
  #prelude: Buffer | undefined;
  #headerLength = 0;
  #version: FormatVersion = 1;
  #header: EncodedHeader | undefined;
  #key: Buffer | undefined;
  #prefix: Buffer | undefined;
  #recordSize = 0;
  #index = 0;
  #plaintextBytes = 0;

  constructor(options: ChunkDecryptorOptions) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#openKey = options.openKey;
  }

  /** The header, once read. */
  get header(): EncodedHeader | undefined {
    return this.#header;
  }

  /** Chunks authenticated so far. */
  get chunks(): number {
    return this.#index;
  }

  get plaintextBytes(): number {
    return this.#plaintextBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#queue.push(chunk);
    this.#drain(false).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#drain(true).then(() => {
      this.#key?.fill(0);
      callback();
    }, callback);
  }

  /** A tampered chunk or an abort destroys the stream without a flush: the key must not outlive it. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#key?.fill(0);
    callback(error);
  }

  async #drain(end: boolean): Promise<void> {
    if (this.#state === 'prelude' && this.#queue.length >= PRELUDE_LENGTH) {
      this.#prelude = Buffer.from(this.#queue.take(PRELUDE_LENGTH));
      ({ version: this.#version, length: this.#headerLength } = parsePrelude(this.#prelude));
      this.#state = 'header';
    }
    if (this.#state === 'header' && this.#queue.length >= this.#headerLength) {
      const json = Buffer.from(this.#queue.take(this.#headerLength));
      const header = parseHeaderJson(json, this.#version);
      const encoded: EncodedHeader = {
        header,
        bytes: Buffer.concat([this.#prelude!, json]),
        version: this.#version,
      };
      this.#header = encoded;
      const dataKey = await this.#openKey(encoded);
      this.#key = payloadKey(dataKey, Buffer.from(header.salt, 'base64'));
      dataKey.fill(0);
      this.#prefix = Buffer.from(header.noncePrefix, 'base64');
      this.#recordSize = header.chunkSize + TAG_LENGTH;
      this.#state = 'chunks';
    }
    if (this.#state === 'chunks') {
      // Chunks opened from one input block go out as one buffer: one write downstream.
      const opened: Buffer[] = [];
      while (this.#queue.length > this.#recordSize)
        opened.push(this.#open(this.#queue.take(this.#recordSize), false));
      if (opened.length > 0) this.push(opened.length === 1 ? opened[0] : Buffer.concat(opened));
    }
    if (!end) return;
    if (this.#state !== 'chunks') {
      throw corrupt(
        this.#state === 'prelude' && this.#queue.length === 0 && this.#prelude === undefined
          ? 'The backup file is empty.'
          : 'The backup file ends inside its header.',
      );
    }
    const rest = this.#queue.takeAll();
    if (rest.length < TAG_LENGTH) {
      throw corrupt(
        `The backup file is truncated: it ends after chunk ${this.#index - 1} without a final chunk.`,
      );
    }
    this.push(this.#open(rest, true));
  }

  #open(record: Buffer, last: boolean): Buffer {
    const header = this.#header!;
    const decipher = createDecipheriv(
      'aes-256-gcm',
      this.#key!,
      chunkNonce(this.#prefix!, this.#index, last),
      {
        authTagLength: TAG_LENGTH,
      },
    );
    decipher.setAAD(header.bytes);
    decipher.setAuthTag(record.subarray(record.length - TAG_LENGTH));
    const plaintext = decipher.update(record.subarray(0, record.length - TAG_LENGTH));
    try {
      decipher.final();
    } catch {
      throw corrupt(
        last
          ? `The last chunk (${this.#index}) failed authentication: the file is truncated (possibly at a chunk boundary) or altered.`
          : `Chunk ${this.#index} failed authentication: the file or its header was altered, or chunks were reordered.`,
      );
    }
    this.#index += 1;
    this.#plaintextBytes += plaintext.length;
    return plaintext;
  }
}
