import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, quoteIdentifier } from './sql.js';
import { PgwardenError } from '../errors.js';

test('values become numbered parameters, never text', () => {
  const evil = "'; DROP TABLE users; --";
  const q = sql`SELECT * FROM users WHERE name = ${evil} AND id = ${7}`.toQuery();
  assert.equal(q.text, 'SELECT * FROM users WHERE name = $1 AND id = $2');
  assert.deepEqual(q.values, [evil, 7]);
});

test('nested fragments renumber parameters', () => {
  const where = sql`age > ${18}`;
  const q = sql`SELECT ${1} FROM t WHERE ${where} AND x = ${'y'}`.toQuery();
  assert.equal(q.text, 'SELECT $1 FROM t WHERE age > $2 AND x = $3');
  assert.deepEqual(q.values, [1, 18, 'y']);
});

test('identifiers are quoted and embedded quotes doubled', () => {
  const q = sql`SELECT * FROM ${sql.ident('public', 'we"ird')}`.toQuery();
  assert.equal(q.text, 'SELECT * FROM "public"."we""ird"');
  assert.throws(
    () => quoteIdentifier(''),
    (e: unknown) => e instanceof PgwardenError && e.code === 'PGW_SQL_INVALID',
  );
});

test('join separates items', () => {
  const q = sql`INSERT INTO t VALUES (${sql.join([1, 2, 3])})`.toQuery();
  assert.equal(q.text, 'INSERT INTO t VALUES ($1, $2, $3)');
});

test('sql called as a plain function with an array is refused, never rendered raw (issue 12, item 13)', () => {
  const hostile = '1; DROP TABLE users; --';
  for (const call of [
    () => (sql as unknown as (s: string[]) => unknown)([`SELECT ${hostile}`]),
    () => (sql as unknown as (s: string[], ...v: unknown[]) => unknown)(['SELECT ', ''], 1, 2),
    () => (sql as unknown as (s: unknown) => unknown)(Object.freeze([`SELECT ${hostile}`])),
  ]) {
    assert.throws(call, { code: 'PGW_SQL_INVALID', message: /tagged template/ });
  }
  // A real template, with and without values, still works.
  assert.deepEqual(sql`SELECT 1`.toQuery(), { text: 'SELECT 1', values: [] });
  assert.deepEqual(sql`SELECT ${hostile}`.toQuery(), { text: 'SELECT $1', values: [hostile] });
});
