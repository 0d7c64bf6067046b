/**
 * The code each frame worker runs, as a CommonJS string for
 * `new Worker(code, { eval: true })`: no file to resolve, so it works the
 * same from dist/, under tsx, and bundled. It only compresses or
 * decompresses buffers it is handed; it never sees keys or plaintext
 * that is not about to be compressed anyway.
 *
 * Decompression reports how many input bytes the decoder consumed
 * (`engine.bytesWritten`): brotli's and zstd's decoders stop silently at the
 * end of their first stream, so the caller checks that nothing was left
 * over. Every returned buffer owns its whole ArrayBuffer, so it can be
 * transferred instead of copied.
 */
export const FRAME_WORKER_SOURCE = `'use strict';
const { parentPort, workerData, threadId } = require('node:worker_threads');
const zlib = require('node:zlib');
const p = workerData;
const compress = {
  brotli: (b) => zlib.brotliCompressSync(b, { params: Object.assign({}, p.brotli, { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length }) }),
  gzip: (b) => zlib.gzipSync(b, { level: p.gzipLevel }),
  'zstd-frames': (b) => zlib.zstdCompressSync(b, { params: p.zstd }),
}[p.codec];
const decompress = {
  brotli: (b, o) => zlib.brotliDecompressSync(b, o),
  gzip: (b, o) => zlib.gunzipSync(b, o),
  'zstd-frames': (b, o) => zlib.zstdDecompressSync(b, o),
}[p.codec];
function owned(buffer) {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) return buffer;
  const copy = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(copy);
  return copy;
}
parentPort.on('message', (job) => {
  try {
    const input = Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
    let output;
    let consumed;
    if (job.op === 'compress') {
      output = owned(compress(input));
      consumed = input.length;
    } else {
      const result = decompress(input, { info: true, maxOutputLength: Math.max(1, job.expected) });
      output = owned(result.buffer);
      consumed = result.engine.bytesWritten;
    }
    parentPort.postMessage({ id: job.id, output, consumed, threadId }, [output.buffer]);
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String((error && error.message) || error), code: error && error.code });
  }
});
`;
