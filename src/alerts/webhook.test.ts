import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redact } from '../redact/redactor.js';
import { parseWebhookUrl } from './webhook.js';

test('credentials leave the URL for a Basic header; only the origin is shown', () => {
  const target = parseWebhookUrl('https://bot:s3cr3t-value@hooks.example.com/services/T0/B0/tokenpart?x=1');
  assert.equal(target.display, 'https://hooks.example.com');
  assert.equal(target.url.reveal(), 'https://hooks.example.com/services/T0/B0/tokenpart?x=1');
  assert.equal(target.authorization?.reveal(), `Basic ${Buffer.from('bot:s3cr3t-value').toString('base64')}`);
  // The whole URL and the password are now redacted wherever they appear.
  assert.doesNotMatch(redact('failed: s3cr3t-value'), /s3cr3t-value/);
  assert.equal(String(target.url), '[redacted]');
});

test('only http(s); credentials in clear only to loopback', () => {
  const refused = (url: string, pattern: RegExp) =>
    assert.throws(
      () => parseWebhookUrl(url),
      (e: Error & { code?: string }) => e.code === 'PGW_ALERTS_CONFIG_INVALID' && pattern.test(e.message),
    );
  refused('not a url', /not a valid URL/);
  refused('ftp://example.com/x', /must be an http/);
  refused('http://u:p@example.com/x', /credentials over plain http to example\.com/);
  assert.equal(parseWebhookUrl('http://u:p@127.0.0.1:9/x').display, 'http://127.0.0.1:9');
  assert.equal(parseWebhookUrl('http://example.com/x').authorization, undefined);
});
