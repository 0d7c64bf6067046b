// The documentation lists exactly what the code defines: error codes in
// docs/errors.md, environment variables in docs/config.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
