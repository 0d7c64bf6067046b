/**
 * The stage between pg_dump's archive and the chunk cipher, per format
 * version: version 2 compresses independent frames in worker threads
 * (frames/); version 1, read only, is one compressed stream. `none` and
 * `zstd` (pg_dump compressed its own output) add no layer in either.
 */
import { PassThrough, type Transform } from 'node:stream';
import { corrupt } from './backup-error.js';
import { createDecompressor } from './compression.js';
import { DEFAULT_FRAME_SIZE, STREAM_BUFFER, type Compression } from './format/constants.js';
import type { EncodedHeader } from './format/header.js';
import { assertCodecAvailable, isFramed } from './frames/codecs.js';
import { FrameReader } from './frames/frame-reader.js';
import { FrameWriter } from './frames/frame-writer.js';
import { defaultWorkerCount } from './frames/worker-pool.js';

export interface PayloadOptions {
  /** Worker threads compressing or decompressing frames. Default: one less than the cores, 1 to 4. */
  workers?: number | undefined;
  /** Uncompressed bytes per frame (writing). Default 1 MiB. */
  frameSize?: number | undefined;
}

/** The transform that turns pg_dump's archive into a version-2 payload. */
export function payloadEncoder(compression: Compression, options: PayloadOptions = {}): Transform {
  if (!isFramed(compression)) return new PassThrough({ highWaterMark: STREAM_BUFFER });
  assertCodecAvailable(compression, 'create');
  return new FrameWriter({
    compression,
    frameSize: options.frameSize ?? DEFAULT_FRAME_SIZE,
    workers: options.workers ?? defaultWorkerCount(),
  });
}

/** The transform that turns a decrypted payload back into pg_dump's archive. */
export function payloadDecoder(encoded: EncodedHeader, options: PayloadOptions = {}): Transform {
  const { header, version } = encoded;
  const compression = header.compression;
  if (version === 1) {
    if (compression === 'zstd-frames') throw corrupt('A version-1 backup cannot use zstd-frames.');
    return createDecompressor(compression);
  }
  if (!isFramed(compression)) return new PassThrough({ highWaterMark: STREAM_BUFFER });
  assertCodecAvailable(compression, 'read');
  if (header.frameSize === undefined) throw corrupt('The backup header lacks its frame size.');
  return new FrameReader({
    compression,
    frameSize: header.frameSize,
    workers: options.workers ?? defaultWorkerCount(),
  });
}
