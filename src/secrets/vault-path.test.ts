import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { kvDataPath, parseKvPath } from './vault-path.js';

describe('parseKvPath', () => {
  test('the first segment is the mount, as for vault kv get', () => {
    assert.deepEqual(parseKvPath('secret/takumi/production', 'vault'), {
      mount: 'secret',
      path: 'takumi/production',
    });
    assert.deepEqual(parseKvPath('/secret//app/', 'vault'), { mount: 'secret', path: 'app' });
    assert.equal(
      kvDataPath(parseKvPath('secret/takumi/production', 'vault')),
      'secret/data/takumi/production',
    );
  });

  test('an explicit mount may contain slashes', () => {
    const location = parseKvPath('app/db', 'vault', 'team-a/kv');
    assert.deepEqual(location, { mount: 'team-a/kv', path: 'app/db' });
    assert.equal(kvDataPath(location), 'team-a/kv/data/app/db');
  });

  test('segments are URL-encoded; dot segments and bare mounts are refused', () => {
    assert.equal(kvDataPath({ mount: 'secret', path: 'a b/c?d' }), 'secret/data/a%20b/c%3Fd');
    for (const bad of ['secret', '', '/', 'secret/../sys', 'secret/./x']) {
      assert.throws(() => parseKvPath(bad, 'vault'), { code: 'PGW_SECRET_CONFIG', option: 'VAULT_PATH' });
    }
  });
});
