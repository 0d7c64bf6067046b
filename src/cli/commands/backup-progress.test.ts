// The terminal progress line: each phase named, the estimate marked, ETA
// only while running, post-data without a bar (nothing bounds it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupProgress } from '../../backup/index.js';
import { formatProgress } from './backup-progress.js';

const MiB = 1024 * 1024;
const base = { elapsedMs: 4_000, done: false } as const;

test('create: estimated percentage marked with ~, bytes of the estimate, written bytes, rate and ETA', () => {
  const p: BackupProgress = {
    ...base,
    operation: 'create',
    phase: 'dump',
    bytes: 200 * MiB,
    estimatedTotalBytes: 500 * MiB,
    writtenBytes: 70 * MiB,
    percent: 40,
    etaMs: 6_000,
    bytesPerSecond: 50 * MiB,
  };
  assert.equal(
    formatProgress(p),
    '  create dump [########............] ~40% 200.0 MiB of ~500.0 MiB → 70.0 MiB  50.0 MiB/s  ETA 00:06  00:04',
  );
  assert.equal(
    formatProgress({ ...p, done: true, percent: 100, etaMs: 0, elapsedMs: 9_000 }),
    '  create dump [####################] 100% 200.0 MiB of 500.0 MiB → 70.0 MiB  50.0 MiB/s  00:09',
  );
});

test('verify: the phases by name; row-counts in tables; post-data without a bar', () => {
  const decrypt: BackupProgress = {
    ...base,
    operation: 'verify',
    phase: 'decrypt',
    bytes: 10 * MiB,
    totalBytes: 40 * MiB,
    percent: 25,
    etaMs: 12_000,
    bytesPerSecond: 2.5 * MiB,
  };
  assert.equal(
    formatProgress(decrypt),
    '  verify decrypt [#####...............] 25% 10.0 MiB of 40.0 MiB  2.5 MiB/s  ETA 00:12  00:04',
  );
  assert.equal(
    formatProgress({
      ...base,
      operation: 'verify',
      phase: 'post-data',
      bytes: 40 * MiB,
      bytesPerSecond: 10 * MiB,
    }),
    '  verify post-data (indexes, constraints) 40.0 MiB  10.0 MiB/s  00:04',
  );
  assert.equal(
    formatProgress({
      ...base,
      operation: 'verify',
      phase: 'row-counts',
      bytes: 0,
      tables: 3,
      totalTables: 7,
      percent: 42.8,
      etaMs: 5_300,
      bytesPerSecond: 0,
    }),
    '  verify row-counts [#########...........] 43% 3/7 tables  ETA 00:05  00:04',
  );
});
