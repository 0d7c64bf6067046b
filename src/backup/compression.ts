/**
 * Format version 1's decompression: the whole dump was one zlib stream
 * (brotli quality 1 with a 256 KiB window, or gzip level 1) before
 * encryption. Version 2 compresses independent frames in worker threads
 * instead (frames/); this module stays so that version-1 backups still read.
 */
import { PassThrough, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { STREAM_BUFFER, type Compression } from './format/constants.js';

// zlib's default 16 KiB output chunks cost a thread-pool round trip each; 256 KiB matches the stages around it.
const ZLIB_STREAM = { chunkSize: 256 * 1024, highWaterMark: STREAM_BUFFER } as const;

/** Version 1's stream decompressor. */
export function createDecompressor(compression: Exclude<Compression, 'zstd-frames'>): Transform {
  switch (compression) {
    case 'brotli':
      return createBrotliDecompress(ZLIB_STREAM);
    case 'gzip':
      return createGunzip(ZLIB_STREAM);
    case 'none':
    case 'zstd':
      return new PassThrough({ highWaterMark: STREAM_BUFFER });
  }
}
