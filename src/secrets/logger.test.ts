import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Secret } from '../redact/secret.js';
import { defaultSecretLogger, logSecretEvent, type SecretLogger } from './logger.js';

describe('secrets logging', () => {
  test('logSecretEvent names the backend, uses the code as event and redacts the message', () => {
    const secret = new Secret('tracked-secret-value-123');
    const lines: Array<[string, string, string, Record<string, unknown> | undefined]> = [];
    const logger: SecretLogger = {
      log: (level, event, message, fields) => lines.push([level, event, message, fields]),
    };
    logSecretEvent(logger, {
      level: 'warn',
      backend: 'vault',
      code: 'PGW_SECRET_STALE',
      message: `oops ${secret.reveal()} and token=abc`,
    });
    assert.deepEqual(lines, [
      [
        'warn',
        'PGW_SECRET_STALE',
        'secrets backend "vault": oops [redacted] and token=[redacted]',
        { backend: 'vault', code: 'PGW_SECRET_STALE' },
      ],
    ]);
  });

  test('a throwing logger does not break the caller', () => {
    const logger: SecretLogger = {
      log: () => {
        throw new Error('broken logger');
      },
    };
    assert.doesNotThrow(() => logSecretEvent(logger, { level: 'warn', backend: 'env', message: 'x' }));
  });

  test('the default logger turns warnings into process warnings with the code, and drops info', async () => {
    const warning = once(process, 'warning');
    defaultSecretLogger.log('info', 'PGW_SECRET', 'not shown');
    defaultSecretLogger.log('warn', 'PGW_SECRET_STALE', 'shown');
    const [w] = (await warning) as [Error & { code?: string }];
    assert.equal(w.name, 'PgwardenWarning');
    assert.equal(w.code, 'PGW_SECRET_STALE');
    assert.equal(w.message, 'shown');
  });
});
