// Percentages stay below 100 until the phase is done, also when the dump
// outgrows its estimate; the ETA follows the rate so far.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressTicker, shareOf, type BackupProgress } from './progress.js';

test('shareOf: percentage with one decimal, held at 99 until done; ETA from the rate so far', () => {
  assert.deepEqual(shareOf(250, 1000, 2_000, false), { percent: 25, etaMs: 6_000 });
  assert.deepEqual(shareOf(999, 1000, 1_000, false), { percent: 99, etaMs: 1 });
  // The dump outgrew its estimate: still 99, and no ETA (the estimate is known wrong).
  assert.deepEqual(shareOf(1500, 1000, 1_000, false), { percent: 99 });
  assert.deepEqual(shareOf(0, 1000, 1_000, false), { percent: 0 });
  assert.deepEqual(shareOf(10, undefined, 1_000, false), {});
  assert.deepEqual(shareOf(10, undefined, 1_000, true), { percent: 100, etaMs: 0 });
});

test('progressTicker: a phase, its own elapsed time, a final report only when done, never after stop', async () => {
  const reports: BackupProgress[] = [];
  let bytes = 0;
  const ticker = progressTicker(
    'verify',
    'decrypt',
    (p) => reports.push(p),
    () => ({ bytes, totalBytes: 100 }),
    5,
  );
  for (let i = 0; i < 5; i++) {
    bytes += 10;
    await new Promise((resolve) => setTimeout(resolve, 12));
  }
  ticker.stop(true);
  ticker.stop(true);
  const count = reports.length;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reports.length, count, 'no report after stop');
  assert.ok(count >= 2);
  assert.ok(reports.every((p) => p.operation === 'verify' && p.phase === 'decrypt'));
  assert.deepEqual(reports.at(-1)!.percent, 100);
  assert.equal(reports.filter((p) => p.done).length, 1);
  assert.ok(reports.slice(0, -1).every((p) => p.percent! < 100));
  const stopped: BackupProgress[] = [];
  progressTicker(
    'restore',
    'restore',
    (p) => stopped.push(p),
    () => ({ bytes: 1 }),
    1_000,
  ).stop(false);
  assert.deepEqual(stopped, []);
});
