import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateExpiry, describeCertificateExpiry } from './certificate-expiry.js';

const DAY = 86_400_000;
const now = Date.parse('2026-12-01T12:00:00Z');
const at = (days: number) => new Date(now + days * DAY);

test('levels: less than the threshold left is expiring, past notAfter is expired', () => {
  const level = (days: number, threshold?: number) => certificateExpiry(at(days), now, threshold).level;
  assert.equal(level(30), 'valid', 'exactly 30 days left is not within 30 days');
  assert.equal(level(29.99), 'expiring');
  assert.equal(level(19.5), 'expiring');
  assert.equal(level(0.01), 'expiring');
  assert.equal(level(0), 'expired');
  assert.equal(level(-3), 'expired');
  assert.equal(level(19.5, 14), 'valid');
});

test('the words doctor, audit and alerts all print', () => {
  const say = (days: number) => describeCertificateExpiry(certificateExpiry(at(days), now));
  assert.equal(
    say(19.5),
    `expires in 19 days (${at(19.5).toISOString()}), within the 30-day renewal threshold`,
  );
  assert.equal(say(1.5), `expires in 1 day (${at(1.5).toISOString()}), within the 30-day renewal threshold`);
  assert.equal(say(340.2), `expires in 340 days (${at(340.2).toISOString()})`);
  assert.equal(say(-0.5), `expired today (${at(-0.5).toISOString()})`);
  assert.equal(say(-2.5), `expired 2 days ago (${at(-2.5).toISOString()})`);
});
