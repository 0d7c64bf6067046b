// Retention on a crafted set of backups: which are deleted, and the rules
// that protect the newest ones and the newest verified ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRetention, type RetentionCandidate } from './retention.js';

const now = new Date('2026-11-22T12:00:00Z');
const DAY = 86_400_000;

function backup(id: string, ageDays: number, options: Partial<RetentionCandidate> = {}): RetentionCandidate {
  const createdAt = new Date(now.getTime() - ageDays * DAY);
  return {
    id,
    database: 'app',
    retentionClass: 'daily',
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 30 * DAY),
    verified: false,
    ...options,
  };
}

function deleted(candidates: RetentionCandidate[], policy: Parameters<typeof planRetention>[1]): string[] {
  return planRetention(candidates, policy)
    .filter((d) => d.action === 'delete')
    .map((d) => d.id)
    .sort();
}

test('expiry from the manifest: only expired backups go, the newest always stays', () => {
  const set = [backup('d1', 1), backup('d10', 10), backup('d31', 31), backup('d45', 45), backup('d90', 90)];
  assert.deepEqual(deleted(set, { now }), ['d31', 'd45', 'd90']);
});

test('--keep-days overrides the recorded expiry', () => {
  const set = [backup('d1', 1), backup('d5', 5), backup('d8', 8), backup('d20', 20)];
  assert.deepEqual(deleted(set, { now, keepDays: 7 }), ['d20', 'd8']);
  assert.deepEqual(deleted(set, { now, keepDays: 0 }), ['d20', 'd5', 'd8']);
});

test('--keep-last keeps the newest N even when expired', () => {
  const set = [backup('d40', 40), backup('d50', 50), backup('d60', 60), backup('d70', 70)];
  assert.deepEqual(deleted(set, { now, keepLast: 2 }), ['d60', 'd70']);
  assert.deepEqual(deleted(set, { now, keepLast: 0, minVerified: 0 }), ['d40', 'd50', 'd60', 'd70']);
});

test('--min-verified never deletes the newest verified backups below the minimum', () => {
  const set = [
    backup('new-unverified', 40),
    backup('older-verified', 50, { verified: true }),
    backup('oldest-verified', 60, { verified: true }),
    backup('ancient', 70),
  ];
  assert.deepEqual(deleted(set, { now, keepLast: 1, minVerified: 1 }), ['ancient', 'oldest-verified']);
  assert.deepEqual(deleted(set, { now, keepLast: 1, minVerified: 2 }), ['ancient']);
  assert.deepEqual(deleted(set, { now, keepLast: 0, minVerified: 1 }), [
    'ancient',
    'new-unverified',
    'oldest-verified',
  ]);
  const reasons = planRetention(set, { now, keepLast: 1, minVerified: 1 }).find(
    (d) => d.id === 'older-verified',
  )!;
  assert.deepEqual(reasons, {
    id: 'older-verified',
    action: 'keep',
    reasons: ['one of the newest 1 verified'],
  });
});

test('rules apply per database and retention class', () => {
  const set = [
    backup('app-daily-old', 60),
    backup('app-weekly-old', 60, { retentionClass: 'weekly' }),
    backup('other-old', 60, { database: 'other' }),
    backup('app-daily-new', 1),
  ];
  // Each group keeps its newest: only the old daily of app, which has a newer sibling, goes.
  assert.deepEqual(deleted(set, { now }), ['app-daily-old']);
});
