import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { assertNoCanary } from '../../test/support/canary.js';
import { createRdsIamProvider, RDS_IAM_TOKEN_LIFETIME_MS, rdsIamSettingsFromEnv } from './rds-iam.js';

describe('rds-iam provider', () => {
  test('signs a 15-minute token locally and says TLS is required', async () => {
    const settings = rdsIamSettingsFromEnv({
      DB_HOST: 'mydb.abc123.us-east-1.rds.amazonaws.com',
      DB_PORT: '5432',
      DB_USER: 'app_iam',
      AWS_REGION: 'us-east-1',
    });
    const provider = createRdsIamProvider({
      ...settings,
      credentials: {
        accessKeyId: 'AKIAPGWARDENTEST0001',
        secretAccessKey: 'pgwarden-test-secret-access-key-0000000',
      },
    });
    const before = Date.now();
    const c = await provider.fetch();
    const token = c.password?.reveal() ?? '';
    assert.match(
      token,
      /^mydb\.abc123\.us-east-1\.rds\.amazonaws\.com:5432\/\?Action=connect&DBUser=app_iam&/,
    );
    assert.match(token, /X-Amz-Expires=900/);
    assert.match(token, /X-Amz-Credential=AKIAPGWARDENTEST0001%2F\d{8}%2Fus-east-1%2Frds-db%2Faws4_request/);
    assert.equal(c.user, 'app_iam');
    assert.equal(c.passwordIsToken, true);
    const lifetime = (c.expiresAt?.getTime() ?? 0) - before;
    assert.ok(lifetime >= RDS_IAM_TOKEN_LIFETIME_MS - 1000 && lifetime <= RDS_IAM_TOKEN_LIFETIME_MS + 1000);
    const description = provider.describe();
    assert.equal(description.tlsRequired, true);
    for (const text of [JSON.stringify(c), inspect(c), JSON.stringify(description)])
      assertNoCanary(text, token);
  });

  test('the default port is 5432; PGHOST/PGUSER work too', () => {
    const settings = rdsIamSettingsFromEnv({ PGHOST: 'h', PGUSER: 'u' });
    assert.equal(createRdsIamProvider(settings).describe().port, 5432);
  });
});
