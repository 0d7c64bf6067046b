// The documentation lists exactly what the code defines: error codes in
// docs/errors.md, environment variables in docs/config.md, and the tests
// docs/security.md names as proof of each guarantee; and what ships stands
// alone: no path outside the repository, no broken relative link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
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

/** What a clone ships: the README, the changelog, docs/, examples/ and src/. */
function shippedFiles(): string[] {
  const files = ['README.md', 'CHANGELOG.md'];
  for (const root of ['docs', 'examples', 'src']) {
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
    }
  }
  return files;
}

test('nothing shipped points outside the repository', () => {
  // Built from parts so this file does not match itself.
  const outside = new RegExp(['/' + 'work/', '\\.\\./\\.\\./\\.\\./', 'shared/' + 'guidelines'].join('|'));
  const offenders = shippedFiles().filter((file) => outside.test(readFileSync(file, 'utf8')));
  assert.deepEqual(offenders, []);
});

test('relative links in README.md, docs/ and examples/ lead to files that exist', () => {
  const broken: string[] = [];
  for (const file of shippedFiles().filter((f) => f.endsWith('.md') && !f.startsWith('src'))) {
    for (const [, target] of readFileSync(file, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:|^#/.test(target!)) continue;
      const path = normalize(join(dirname(file), target!.replace(/#.*$/, '')));
      if (path.startsWith('..') || !existsSync(path)) broken.push(`${file}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});
