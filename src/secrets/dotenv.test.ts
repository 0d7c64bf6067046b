import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import { SecretError } from '../errors.js';
import { createDotenvProvider, dotenvSettingsFromEnv } from './dotenv.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-dotenv-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function envFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function assertNoLeak(secret: string, error: unknown): void {
  const e = error as Error;
  for (const text of [e.message, String(e), e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 })]) {
    assertNoCanary(text, secret);
  }
}

describe('dotenv provider', () => {
  test('reads credentials and connection fields from the file', async () => {
    const pw = canary();
    const path = envFile(
      'ok.env',
      `export DB_USER=app\nDB_PASSWORD="${pw}"\nDB_HOST=db.local\nDB_PORT=6543\nDB_NAME=appdb\n`,
    );
    const provider = createDotenvProvider({ path, environment: 'development', env: {} });
    const c = await provider.fetch();
    assert.equal(c.user, 'app');
    assert.equal(c.password?.reveal(), pw);
    assert.equal(c.host, 'db.local');
    assert.equal(c.port, 6543);
    assert.equal(c.database, 'appdb');
    assert.equal(provider.describe().passwordSource, 'dotenv:DB_PASSWORD');
  });

  test('never overrides a variable set in the real environment', async () => {
    const pw = canary();
    const real = canary();
    const path = envFile('override.env', `DB_USER=fromfile\nDB_PASSWORD=${pw}\n`);
    const provider = createDotenvProvider({ path, environment: 'test', env: { DB_PASSWORD: real } });
    const c = await provider.fetch();
    assert.equal(c.password?.reveal(), real);
    assert.equal(c.user, 'fromfile');
    assert.equal(provider.describe().passwordSource, 'environment:DB_PASSWORD');
  });

  test('refused in production and staging (PGW_SECRET_NOT_ALLOWED), allowed under aliases of dev/test', () => {
    for (const environment of ['production', 'prod', 'staging', 'qa-unknown']) {
      assert.throws(
        () => createDotenvProvider({ environment, env: {} }),
        (e: SecretError) =>
          e.code === 'PGW_SECRET_NOT_ALLOWED' && /dotenv/.test(e.message) && /vault/.test(e.fix ?? ''),
      );
    }
    for (const environment of ['development', 'dev', 'local', 'test', 'ci']) {
      assert.doesNotThrow(() => createDotenvProvider({ environment, env: {} }));
    }
  });

  test('refused when group or others can read the file; the fix is chmod 600 <path>', async (t) => {
    if (process.platform === 'win32') return t.skip('no POSIX modes');
    const pw = canary();
    for (const mode of [0o640, 0o604, 0o644]) {
      const path = envFile(`mode-${mode.toString(8)}.env`, `DB_PASSWORD=${pw}\n`, mode);
      const error = await createDotenvProvider({ path, environment: 'development', env: {} })
        .fetch()
        .catch((e: unknown) => e);
      assert.ok(error instanceof SecretError);
      assert.equal(error.code, 'PGW_SECRET_FILE_PERMISSIONS');
      assert.equal(error.fix, `chmod 600 ${path}`);
      assertNoLeak(pw, error);
    }
  });

  test('missing file, missing password, syntax error: coded, without the content', async () => {
    const pw = canary();
    await assert.rejects(
      createDotenvProvider({ path: join(dir, 'nope.env'), environment: 'test', env: {} }).fetch(),
      { code: 'PGW_SECRET_NOT_FOUND', option: 'DOTENV_PATH' },
    );
    await assert.rejects(
      createDotenvProvider({
        path: envFile('nopw.env', 'DB_USER=app\n'),
        environment: 'test',
        env: {},
      }).fetch(),
      { code: 'PGW_SECRET_FIELD_MISSING' },
    );
    const bad = envFile('bad.env', `DB_USER=app\nDB_PASSWORD="${pw}\n`);
    const error = await createDotenvProvider({ path: bad, environment: 'test', env: {} })
      .fetch()
      .catch((e: unknown) => e);
    assert.ok(error instanceof SecretError);
    assert.equal(error.code, 'PGW_SECRET_MALFORMED');
    assert.match(error.message, /line 2/);
    assertNoLeak(pw, error);
  });

  test('dotenvSettingsFromEnv reads DOTENV_PATH; the default is ./.env', () => {
    assert.equal(dotenvSettingsFromEnv({ DOTENV_PATH: '/x/.env' }, 'test').path, '/x/.env');
    assert.equal(dotenvSettingsFromEnv({}, 'test').path, undefined);
    const provider = createDotenvProvider({ environment: 'test', env: {} });
    assert.equal(provider.describe().path, join(process.cwd(), '.env'));
  });
});
