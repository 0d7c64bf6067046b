// Format version 2's frames on their own: round trips at frame-size edges
// with 1 to 3 workers, order kept when workers finish out of order, and
// every way a frame can lie about itself refused, in particular a frame
// whose decoder stops before its last byte (brotli and zstd ignore what
// follows their first stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { BackupError } from '../backup-error.js';
import { FRAME_PREFIX_LENGTH, MIN_FRAME_SIZE, type FramedCompression } from '../format/constants.js';
import { zstdAvailable } from './codecs.js';
import { FrameReader } from './frame-reader.js';
import { FrameWriter } from './frame-writer.js';

const FRAME = MIN_FRAME_SIZE; // 64 KiB: many frames from little data
const CODECS: FramedCompression[] = ['brotli', 'gzip', 'zstd-frames'];
const NO_ZSTD = `Node ${process.versions.node} has no zstd in node:zlib (22.15+ has); run this file under such a Node`;

function skipFor(codec: FramedCompression): string | false {
  return codec === 'zstd-frames' && !zstdAvailable() ? NO_ZSTD : false;
}

/** Compressible and incompressible stretches, so frames take very different times. */
function mixed(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += FRAME / 2) {
    const n = Math.min(FRAME / 2, size - at);
    if ((at / (FRAME / 2)) % 3 === 0) randomBytes(n).copy(out, at);
    else out.fill(`row ${at} of a table that compresses well\n`, at, at + n);
  }
  return out;
}

function pieces(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const n = 1 + Math.floor(Math.random() * 70_000);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function run(source: Buffer[], transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from(source),
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(Buffer.from(chunk));
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}

function compressOne(codec: FramedCompression, data: Buffer): Buffer {
  const z = zlib as unknown as Record<string, (b: Buffer) => Buffer>;
  if (codec === 'brotli') return zlib.brotliCompressSync(data);
  if (codec === 'gzip') return zlib.gzipSync(data);
  return z.zstdCompressSync!(data);
}

function frame(body: Buffer, expected: number, compressed = body.length): Buffer {
  const prefix = Buffer.alloc(FRAME_PREFIX_LENGTH);
  prefix.writeUInt32BE(compressed, 0);
  prefix.writeUInt32BE(expected, 4);
  return Buffer.concat([prefix, body]);
}

async function corruptionOf(codec: FramedCompression, payload: Buffer): Promise<string> {
  try {
    await run([payload], new FrameReader({ compression: codec, frameSize: FRAME, workers: 2 }));
  } catch (error) {
    assert.ok(error instanceof BackupError, String(error));
    assert.equal(error.code, 'PGW_BACKUP_CORRUPT', error.message);
    return error.message;
  }
  assert.fail('the payload was accepted');
}

for (const codec of CODECS) {
  test(
    `${codec}: round trips at frame edges; 1 and 3 workers all take part, order kept`,
    { skip: skipFor(codec) },
    async () => {
      const cases: Array<[number, number]> = [
        ...[0, 1, FRAME - 1, FRAME, FRAME + 1].map((size): [number, number] => [size, 2]),
        [11 * FRAME + 123, 1],
        [11 * FRAME + 123, 3],
      ];
      for (const [size, workers] of cases) {
        const data = mixed(size);
        const writer = new FrameWriter({ compression: codec, frameSize: FRAME, workers });
        const payload = await run(pieces(data), writer);
        assert.equal(writer.frames, Math.ceil(size / FRAME), `${size} bytes`);
        assert.equal(writer.compressedBytes, payload.length);
        const reader = new FrameReader({ compression: codec, frameSize: FRAME, workers });
        const back = await run(pieces(payload), reader);
        assert.ok(back.equals(data), `${codec}, ${workers} workers, ${size} bytes`);
        assert.equal(reader.frames, writer.frames);
        if (size > 4 * FRAME) {
          // Every worker of the pool took part: the frames were spread, not run on one thread.
          assert.equal(writer.threadsUsed, workers, `writer threads, ${workers} workers`);
          assert.equal(reader.threadsUsed, workers, `reader threads, ${workers} workers`);
        }
      }
    },
  );

  test(
    `${codec}: a frame whose decoder stops before its end is corruption`,
    { skip: skipFor(codec) },
    async () => {
      const a = Buffer.from('first stream '.repeat(500));
      const b = Buffer.from('second stream, silently ignored by a decoder that stops '.repeat(50));
      const first = compressOne(codec, a);
      // brotli and zstd: the decoder stops after the first stream and returns exactly `a`.
      // gzip reads on into a second member; trailing zeros it skips without a word.
      const tail = codec === 'gzip' ? Buffer.alloc(16) : compressOne(codec, b);
      const message = await corruptionOf(codec, frame(Buffer.concat([first, tail]), a.length));
      // Node 24's zstd decoder reads on into the next zstd frame (as the zstd CLI does), so there
      // the same frame fails as more output than its prefix states: refused either way.
      assert.match(
        message,
        codec === 'zstd-frames'
          ? /stopped after \d+ of \d+ compressed bytes|decompresses to more than the \d+ bytes/
          : /stopped after \d+ of \d+ compressed bytes/,
      );
    },
  );

  test(
    `${codec}: lengths that lie, garbage and a payload cut inside a frame are corruption`,
    { skip: skipFor(codec) },
    async () => {
      const data = mixed(3 * FRAME);
      const good = await run([data], new FrameWriter({ compression: codec, frameSize: FRAME, workers: 2 }));
      const firstLength = good.readUInt32BE(0) + FRAME_PREFIX_LENGTH;
      const cases: Array<[string, Buffer, RegExp]> = [
        ['cut inside a prefix', good.subarray(0, firstLength + 3), /ends inside frame 1/],
        ['cut inside a body', good.subarray(0, good.length - 1), /ends inside frame 2/],
        ['empty frame', frame(Buffer.alloc(0), 0, 0), /claims 0 bytes of dump/],
        ['frame above frameSize', frame(Buffer.alloc(10), FRAME + 1), /claims 65537 bytes of dump/],
        [
          'compressed length above the bound',
          frame(Buffer.alloc(10), 10, 2 * FRAME),
          /compressed bytes; at most/,
        ],
        ['garbage', frame(randomBytes(4000), 5000), /does not decompress|stopped after|decompresses to/],
      ];
      const body = good.subarray(FRAME_PREFIX_LENGTH, firstLength);
      const short = Buffer.from(good.subarray(0, firstLength));
      short.writeUInt32BE(FRAME - 1, 4);
      cases.push(['uncompressed length one too small', short, /decompresses to more than the 65535 bytes/]);
      const long = Buffer.concat([frame(compressOne(codec, data.subarray(0, 1000)), 1001)]);
      cases.push([
        'uncompressed length one too large',
        long,
        /decompresses to 1000 bytes; its prefix says 1001/,
      ]);
      assert.ok(body.length > 0);
      for (const [name, payload, expected] of cases) {
        assert.match(await corruptionOf(codec, payload), expected, name);
      }
    },
  );
}

test('a destroyed writer or reader terminates its workers', async () => {
  for (const stage of [
    new FrameWriter({ compression: 'gzip', frameSize: FRAME, workers: 2 }),
    new FrameReader({ compression: 'gzip', frameSize: FRAME, workers: 2 }),
  ]) {
    const failed = new Promise((resolve) => stage.once('error', resolve));
    const closed = new Promise((resolve) => stage.once('close', resolve));
    stage.write(mixed(FRAME + 10));
    assert.equal(stage.liveWorkers, 2);
    stage.destroy(new Error('upstream failed'));
    assert.match(String(await failed), /upstream failed/);
    await closed;
    assert.equal(stage.liveWorkers, 0);
  }
});

/** Retired workers exit asynchronously (Worker.terminate resolves later): wait, bounded, for the count to drop. */
async function settledWorkers(stage: { liveWorkers: number }): Promise<number> {
  const deadline = Date.now() + 5000;
  while (stage.liveWorkers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return stage.liveWorkers;
}

test('workers replaced every few frames (as zstd workers are) keep the order and leave none running', async () => {
  const data = mixed(20 * FRAME + 7);
  const writer = new FrameWriter({ compression: 'gzip', frameSize: FRAME, workers: 2, retireAfter: 3 });
  const payload = await run(pieces(data), writer);
  // 21 frames over workers that each take 3: at least 7 threads did work.
  assert.ok(writer.threadsUsed >= 7, `${writer.threadsUsed} threads`);
  assert.equal(await settledWorkers(writer), 0);
  const reader = new FrameReader({ compression: 'gzip', frameSize: FRAME, workers: 2, retireAfter: 2 });
  assert.ok((await run(pieces(payload), reader)).equals(data));
  assert.ok(reader.threadsUsed >= 10, `${reader.threadsUsed} threads`);
  assert.equal(await settledWorkers(reader), 0);
});
