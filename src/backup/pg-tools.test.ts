// Locating pg_dump / pg_restore: an explicit directory must hold a usable
// tool, and a version below the server's is never picked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPgTool } from './pg-tools.js';

test('--pg-bin without the tool is PGW_BACKUP_TOOL_MISSING naming the flag', () => {
  const empty = mkdtempSync(join(tmpdir(), 'pgw-nobin-'));
  try {
    assert.throws(
      () => findPgTool('pg_dump', { pgBin: empty, env: {} }),
      (error: Error & { code?: string; option?: string }) => {
        return error.code === 'PGW_BACKUP_TOOL_MISSING' && error.option === '--pg-bin';
      },
    );
    assert.throws(() => findPgTool('pg_restore', { env: { PG_BIN: empty } }), {
      code: 'PGW_BACKUP_TOOL_MISSING',
      option: 'PG_BIN',
    });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('a major newer than any installed is refused; an installed one is found with its version', (t) => {
  let found;
  try {
    found = findPgTool('pg_dump', { env: { PATH: process.env.PATH ?? '' } });
  } catch {
    t.skip('no pg_dump installed on this machine');
    return;
  }
  assert.match(found.version, /^\d+(\.\d+)*$/);
  assert.ok(found.major >= 10);
  assert.throws(() => findPgTool('pg_dump', { minMajor: 99, env: { PATH: process.env.PATH ?? '' } }), {
    code: 'PGW_BACKUP_TOOL_MISSING',
  });
});
