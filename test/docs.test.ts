// The documentation lists exactly what the code defines: error codes in
// docs/errors.md, environment variables in docs/config.md, and the tests
// docs/security.md names as proof of each guarantee.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.js';
import { CONNECTION_VARIABLES } from '../src/config/variables.js';

const codesIn = (text: string, pattern: RegExp): Set<string> =>
  new Set([...text.matchAll(pattern)].map((m) => m[1]!));

test('docs/errors.md lists every error code and no other', () => {
  const documented = codesIn(readFileSync('docs/errors.md', 'utf8'), /^\| `(PGW_[A-Z_]+)` +\|/gm);
  assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
});

test('docs/config.md documents every connection variable', () => {
  const documented = codesIn(readFileSync('docs/config.md', 'utf8'), /^\| `([A-Z_]+)` +\|/gm);
  const missing = CONNECTION_VARIABLES.map((v) => v.name).filter((name) => !documented.has(name));
  assert.deepEqual(missing, []);
});

test('docs/security.md: every guarantee names a test, and every test it names exists', () => {
  const text = readFileSync('docs/security.md', 'utf8');
  const section = text.slice(text.indexOf('## Guarantees'), text.indexOf('## What pgwarden cannot do'));
  const rows = section.split('\n').filter((line) => line.startsWith('| ') && !/^\| (Guarantee|-)/.test(line));
  assert.ok(rows.length >= 10, 'the table of guarantees is missing');
  const missing: string[] = [];
  for (const row of rows) {
    const proof = row.split(' | ').at(-1)!;
    const cited = [...proof.matchAll(/`([\w./-]+\.test\.ts)`/g)].map((m) => m[1]!);
    if (cited.length === 0 && !proof.includes('assertNoCanary'))
      missing.push(`no test for: ${row.slice(0, 80)}`);
    for (const file of cited) {
      const path = file.includes('/') ? file : `test/integration/${file}`;
      if (!existsSync(path)) missing.push(path);
    }
  }
  assert.deepEqual(missing, []);
});
