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

test('https, or plain http to a loopback receiver only: the URL itself carries the token', () => {
  const refused = (url: string, pattern: RegExp) =>
    assert.throws(
      () => parseWebhookUrl(url),
      (e: Error & { code?: string }) => e.code === 'PGW_ALERTS_CONFIG_INVALID' && pattern.test(e.message),
    );
  refused('not a url', /--webhook is not a URL/);
  refused('ftp://example.com/x', /--webhook uses ftp:/);
  refused('http://u:p@example.com/x', /plain http:\/\/example\.com/);
  // Before: a token in the path went to any host over plain http.
  refused('http://example.com/services/T0/B0/token', /plain http:\/\/example\.com/);
  refused('http://127.0.0.2:9/x', /plain http:\/\/127\.0\.0\.2:9/);
  assert.equal(parseWebhookUrl('http://u:p@127.0.0.1:9/x').display, 'http://127.0.0.1:9');
  assert.equal(parseWebhookUrl('http://localhost:9/x').display, 'http://localhost:9');
  assert.equal(parseWebhookUrl('http://[::1]:9/x').display, 'http://[::1]:9');
  assert.equal(parseWebhookUrl('https://example.com/x').authorization, undefined);
});
