import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from './duration.js';

test('parseDuration accepts units and compounds', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2_000);
  assert.equal(parseDuration('1.5s'), 1_500);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('26h'), 93_600_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration(' 2S '), 2_000);
});

test('parseDuration refuses bare numbers and junk', () => {
  for (const bad of ['', '5', '2 s', 's', '-1s', '1x', '1s5', 'ms']) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

test('formatDuration is short and readable', () => {
  assert.equal(formatDuration(0.25), '0.25ms');
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(12_345), '12.3s');
  assert.equal(formatDuration(302_000), '5m 02s');
  assert.equal(formatDuration(7_500_000), '2h 05m');
  assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), '3d 4h');
  assert.equal(formatDuration(-90_000), '-1m 30s');
});
