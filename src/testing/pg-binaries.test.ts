import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../errors.js';
import { findPgBinaries, hasTool } from './pg-binaries.js';

describe('findPgBinaries', () => {
  test('finds server binaries with their major version', () => {
    const found = findPgBinaries({ allowEmbedded: true });
    assert.ok(hasTool(found, 'postgres') && hasTool(found, 'initdb'));
    assert.ok(found.major >= 10, `major ${found.major}`);
    assert.ok(found.version.startsWith(`${found.major}.`) || found.version === String(found.major));
  });

  test('PG_BIN wins, and an unusable PG_BIN is an error rather than a silent fallback', () => {
    const system = findPgBinaries({ allowEmbedded: true });
    const viaEnv = findPgBinaries({ env: { PG_BIN: system.binDir } });
    assert.equal(viaEnv.source, 'PG_BIN');
    assert.equal(viaEnv.major, system.major);

    const empty = mkdtempSync(join(tmpdir(), 'pgwarden-nobin-'));
    try {
      assert.throws(
        () => findPgBinaries({ env: { PG_BIN: empty } }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.code, 'PGW_CONFIG_INVALID');
          assert.equal(error.option, 'PG_BIN');
          assert.match(error.message, /does not contain postgres and initdb/);
          return true;
        },
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('hasTool() tells which client tools a binary directory has', () => {
    const found = findPgBinaries({ allowEmbedded: true });
    assert.equal(hasTool(found.binDir, 'no-such-tool'), false);
    if (found.source !== 'embedded') assert.equal(hasTool(found, 'pg_ctl'), true);
  });
});
