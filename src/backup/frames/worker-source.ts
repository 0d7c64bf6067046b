/**
 * The code each frame worker runs, as a CommonJS string for
 * `new Worker(code, { eval: true })`: no file to resolve, so it works the
 * same from dist/, under tsx, and bundled. It only compresses or
 * decompresses buffers it is handed; it never sees keys.
 *
 * Decompression reports how many input bytes the decoder consumed
 * (`engine.bytesWritten`): brotli's and zstd's decoders stop silently at the
 * end of their first stream, so the caller checks that nothing was left
 * over.
 *
 * Memory: an isolate frees an unreferenced buffer only at its next garbage
 * collection, which a worker with a tiny heap rarely runs. So a worker keeps
 * nothing it could leave behind: the input goes back to the caller, which
 * reuses it for a later frame; zlib writes its output into one buffer larger
 * than any result (chunkSize), whose memory is handed over whole; each
 * engine is closed at once. zstd's native context is freed only when its
 * handle is collected, close() or not, so the worker runs a scavenge after
 * every frame (and a full collection every 32): on a heap this small that
 * costs microseconds, and it took peak RSS with 2 workers from about 160 to
 * about 115 MiB (bench/README.md#backup).
 */
export const FRAME_WORKER_SOURCE = `'use strict';
const { parentPort, workerData, threadId } = require('node:worker_threads');
const zlib = require('node:zlib');
// A collector to call after each frame (see Memory above): --expose-gc for
// the one context created here only, the flag reset at once so no other
// context or worker gets a gc global. Without it, the pool retires workers.
let collect = () => {};
try {
  const v8 = require('node:v8');
  v8.setFlagsFromString('--expose-gc');
  try {
    const gc = require('node:vm').runInNewContext('gc');
    // A scavenge after every frame, a full collection every 32 (a handle promoted to the old space).
    let frames = 0;
    if (typeof gc === 'function') collect = () => gc(++frames % 32 === 0 ? undefined : { type: 'minor' });
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
} catch {}
const p = workerData;
const compress = {
  brotli: (b, o) => zlib.brotliCompressSync(b, Object.assign(o, { params: Object.assign({}, p.brotli, { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length }) })),
  gzip: (b, o) => zlib.gzipSync(b, Object.assign(o, { level: p.gzipLevel })),
  'zstd-frames': (b, o) => zlib.zstdCompressSync(b, Object.assign(o, { params: p.zstd })),
}[p.codec];
const decompress = {
  brotli: (b, o) => zlib.brotliDecompressSync(b, o),
  gzip: (b, o) => zlib.gunzipSync(b, o),
  'zstd-frames': (b, o) => zlib.zstdDecompressSync(b, o),
}[p.codec];
parentPort.on('message', (job) => {
  // The pool's close(): end here, between jobs (worker-pool.ts, #stop).
  if (job.op === 'stop') process.exit(0);
  const input = Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
  try {
    let result;
    if (job.op === 'compress') {
      result = compress(input, { info: true, chunkSize: job.capacity });
    } else {
      result = decompress(input, { info: true, chunkSize: Math.max(64, job.expected + 1), maxOutputLength: Math.max(1, job.expected) });
    }
    result.engine.close();
    collect();
    const output = result.buffer;
    const transfer = [job.input.buffer];
    // One output chunk, from its own allocation: hand its memory over whole. Anything else is copied.
    let out = output;
    // (Below 4 KiB a buffer may share Node's allocation pool: never transfer those.)
    if (output.byteLength < 4096 || output.byteOffset !== 0) {
      out = Buffer.allocUnsafeSlow(output.length);
      output.copy(out);
    }
    transfer.push(out.buffer);
    const consumed = job.op === 'compress' ? input.length : result.engine.bytesWritten;
    parentPort.postMessage({ id: job.id, output: out, consumed, threadId, input: job.input }, transfer);
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String((error && error.message) || error), code: error && error.code, threadId, input: job.input }, [job.input.buffer]);
  }
});
`;
