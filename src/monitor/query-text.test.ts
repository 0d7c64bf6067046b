import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskLiterals, redactQueryText } from './query-text.js';

test('string literals of every kind are masked', () => {
  assert.equal(maskLiterals("ALTER ROLE app PASSWORD 'hunter2'"), "ALTER ROLE app PASSWORD '?'");
  assert.equal(maskLiterals("SELECT 'it''s', E'a\\'b', U&'d\\0061t'"), "SELECT '?', E'?', U&'?'");
  assert.equal(maskLiterals('SELECT $$x$$, $body$ y $ $body$, $1'), "SELECT '?', '?', $1");
  assert.equal(maskLiterals("SELECT 1 -- it's a comment\n, 'v'"), "SELECT 1 -- it's a comment\n, '?'");
  assert.equal(
    maskLiterals(`SELECT "we're" FROM t /* don't */ WHERE a = 'b'`),
    `SELECT "we're" FROM t /* don't */ WHERE a = '?'`,
  );
});

test('a literal cut by track_activity_query_size is masked to the end', () => {
  assert.equal(maskLiterals("CREATE ROLE x PASSWORD 'secr"), "CREATE ROLE x PASSWORD '?'");
  assert.equal(maskLiterals('SELECT $q$ unterminated'), "SELECT '?'");
});

test('identifiers ending in e are not taken for E-strings', () => {
  assert.equal(maskLiterals("SELECT name'x'"), "SELECT name'?'");
});

test('redactQueryText collapses whitespace, redacts and truncates', () => {
  assert.equal(redactQueryText("SELECT  1,\n\t'a'"), "SELECT 1, '?'");
  assert.equal(redactQueryText('SELECT 1 /* password=hunter2 */'), 'SELECT 1 /* password=[redacted] */');
  assert.equal(redactQueryText('SELECT 123456789', 10), 'SELECT 12…');
  assert.equal(redactQueryText(null), null);
});
