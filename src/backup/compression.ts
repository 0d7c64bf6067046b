/**
 * Format version 1's compression: the whole dump as one zlib stream before
 * encryption (ciphertext does not compress). Version 2 compresses
 * independent frames in worker threads instead (frames/); this module stays
 * so that version-1 backups still read, and the stream compressor for the
 * benchmark's CPU baseline.
 *
 * Brotli at quality 1 was measured at about 311 MiB/s with a better ratio
 * than gzip level 1 (about 150 MiB/s); a 256 KiB window (lgwin 18, instead
 * of 4 MiB) took 10-15 % off brotli's CPU for 0.1 % more output.
 */
import { PassThrough, type Transform } from 'node:stream';
import { constants, createBrotliCompress, createBrotliDecompress, createGunzip, createGzip } from 'node:zlib';
import { STREAM_BUFFER, type Compression } from './format/constants.js';

// zlib's default 16 KiB output chunks cost a thread-pool round trip each; 256 KiB matches the stages around it.
const ZLIB_STREAM = { chunkSize: 256 * 1024, highWaterMark: STREAM_BUFFER } as const;

/** Version 1's stream compressor (the benchmark measures brotli's CPU with it). */
export function createCompressor(compression: Exclude<Compression, 'zstd-frames'>): Transform {
  switch (compression) {
    case 'brotli':
      return createBrotliCompress({
        ...ZLIB_STREAM,
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 1,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC,
          [constants.BROTLI_PARAM_LGWIN]: 18,
        },
      });
    case 'gzip':
      return createGzip({ ...ZLIB_STREAM, level: 1 });
    case 'none':
    case 'zstd':
      return new PassThrough({ highWaterMark: STREAM_BUFFER });
  }
}

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
