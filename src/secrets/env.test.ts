import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import { createEnvProvider, envSettingsFromEnv } from './env.js';

describe('env provider', () => {
  test('DB_USER/DB_PASSWORD win over PGUSER/PGPASSWORD', async () => {
    const pw = canary();
    const provider = createEnvProvider(
      envSettingsFromEnv({ DB_USER: 'app', DB_PASSWORD: pw, PGUSER: 'pg', PGPASSWORD: 'other-password' }),
    );
    const credentials = await provider.fetch();
    assert.equal(credentials.user, 'app');
    assert.equal(credentials.password?.reveal(), pw);
    assert.deepEqual(provider.describe(), { backend: 'env', user: 'app', passwordSource: 'DB_PASSWORD' });
    for (const text of [JSON.stringify(credentials), inspect(credentials), String(credentials.password)]) {
      assertNoCanary(text, pw);
    }
  });

  test('falls back to PGUSER/PGPASSWORD; empty counts as unset', async () => {
    const pw = canary();
    const provider = createEnvProvider(envSettingsFromEnv({ DB_USER: '', PGUSER: 'pg', PGPASSWORD: pw }));
    const credentials = await provider.fetch();
    assert.equal(credentials.user, 'pg');
    assert.equal(credentials.password?.reveal(), pw);
    assert.equal(provider.describe().passwordSource, 'PGPASSWORD');
  });

  test('no password: PGW_SECRET_FIELD_MISSING naming DB_PASSWORD, unless not required', async () => {
    await assert.rejects(
      createEnvProvider(envSettingsFromEnv({ DB_USER: 'app' })).fetch(),
      (e: Error & { code?: string; option?: string }) => {
        assert.equal(e.code, 'PGW_SECRET_FIELD_MISSING');
        assert.equal(e.option, 'DB_PASSWORD');
        assert.match(e.message, /"env".*DB_PASSWORD.*PGPASSWORD/);
        return true;
      },
    );
    const optional = createEnvProvider({ ...envSettingsFromEnv({ DB_USER: 'app' }), requirePassword: false });
    assert.deepEqual(await optional.fetch(), { user: 'app' });
  });
});
