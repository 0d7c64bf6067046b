// Printed plans: a name with control characters becomes a U&"…" identifier,
// the same name in printable characters; nothing else changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLiteral } from 'pg';
import { quoteIdentifier as q } from '../sql/sql.js';
import { printableSql } from './printable-sql.js';

test('quoted names with control characters are rewritten as U& identifiers', () => {
  const sql = `GRANT SELECT ON TABLE ${q('public')}.${q('t\n; DROP "x" \\ \u001b[2J')} TO ${q('app_ro')}`;
  assert.equal(
    printableSql(sql),
    'GRANT SELECT ON TABLE "public".U&"t\\000a; DROP ""x"" \\\\ \\001b[2J" TO "app_ro"',
  );
  const plain = `ALTER ROLE ${q('app')} SET statement_timeout = ${escapeLiteral('30s')}`;
  assert.equal(printableSql(plain), plain);
});

test('a literal with a "quote" inside is skipped, and a control character outside a name is refused', () => {
  const sql = `ALTER ROLE ${q('a\u0007')} SET x = ${escapeLiteral('say "hi"')}`;
  assert.equal(printableSql(sql), `ALTER ROLE U&"a\\0007" SET x = 'say "hi"'`);
  assert.throws(() => printableSql(`ALTER ROLE "a" SET x = ${escapeLiteral('line\nbreak')}`), {
    code: 'PGW_CONFIG_INVALID',
  });
  assert.throws(() => printableSql('SELECT 1;\nSELECT 2'), { code: 'PGW_CONFIG_INVALID' });
});
