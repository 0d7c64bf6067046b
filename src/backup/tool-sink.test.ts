// ToolSink when the child's stdin goes away while the sink ends it (the child
// exited: pg_restore --list stops after the table of contents). Whatever the
// pipe does, the pipeline settles: before, end()'s callback could never come,
// the event loop ran empty and the CLI exited 0 in the middle of a verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ToolProcess } from './child.js';
import { ToolSink } from './tool-sink.js';

/** A tool whose stdin accepts writes and then, while being ended, does what `onFinal` says; it exits with `code`. */
function toolWithStdin(
  onFinal: (stdin: Writable, callback: (error?: Error) => void) => void,
  code = 0,
): ToolProcess {
  const stdin = new Writable({
    write: (_chunk, _encoding, callback) => callback(),
    final(callback) {
      onFinal(this, callback);
    },
  });
  const child = { stdin, kill: () => true } as unknown as ChildProcess;
  return {
    child,
    exited: Promise.resolve({ code, signal: null }),
    stderr: () => '',
    stop: async () => undefined,
  };
}

const BEHAVIOURS: Record<string, (stdin: Writable, callback: (error?: Error) => void) => void> = {
  // the pipe is torn down mid-shutdown: 'close' without 'finish', no error
  'closed while ending': (stdin) => setImmediate(() => stdin.destroy()),
  // the shutdown fails because the reader is gone
  'EPIPE while ending': (_stdin, callback) =>
    setImmediate(() => callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))),
  'ends normally': (_stdin, callback) => setImmediate(() => callback()),
};

async function outcome(onEarlyClose: 'discard' | 'fail', behaviour: string, code = 0): Promise<string> {
  const tool = toolWithStdin(BEHAVIOURS[behaviour]!, code);
  try {
    await pipeline(Readable.from([Buffer.alloc(1077)]), new ToolSink(tool, { onEarlyClose }));
    return 'resolved';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

test('discard (pg_restore --list): the pipeline resolves however the pipe goes away', async () => {
  for (const behaviour of Object.keys(BEHAVIOURS))
    assert.equal(await outcome('discard', behaviour), 'resolved', behaviour);
});

test("fail (restore): a pipe that goes away after the last write is the child's verdict: EPIPE unless it exits 0", async () => {
  // pg_restore ends once it restored the last entry, without waiting for the end of its input:
  // its exit status, not the order of close and end, says whether the restore failed.
  for (const behaviour of ['closed while ending', 'EPIPE while ending']) {
    assert.equal(await outcome('fail', behaviour, 1), 'EPIPE', behaviour);
    assert.equal(await outcome('fail', behaviour, 0), 'resolved', behaviour);
  }
  assert.equal(await outcome('fail', 'ends normally'), 'resolved');
  assert.equal(await outcome('fail', 'ends normally', 1), 'resolved'); // the caller reads the exit status
});

test('fail (restore): a child that stops reading while input is still being written rejects with EPIPE, whatever it exits with', async () => {
  const tool = toolWithStdin((_stdin, callback) => callback(), 0);
  tool.child.stdin!.destroy();
  await assert.rejects(
    pipeline(
      Readable.from([Buffer.alloc(16), Buffer.alloc(16)]),
      new ToolSink(tool, { onEarlyClose: 'fail' }),
    ),
    { code: 'EPIPE' },
  );
});

test('a stdin already destroyed (its close not yet emitted) is an early close, not a write error', async () => {
  const tool = toolWithStdin((_stdin, callback) => callback());
  tool.child.stdin!.destroy();
  await assert.doesNotReject(
    pipeline(Readable.from([Buffer.alloc(16)]), new ToolSink(tool, { onEarlyClose: 'discard' })),
  );
});
