import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AMBIGUOUS_CHARACTERS, CHARACTER_CLASSES, generatePassword, parseClasses } from './generate.js';

test('default: 32 characters with every class, all different', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const pw = generatePassword().reveal();
    assert.equal(pw.length, 32);
    for (const set of Object.values(CHARACTER_CLASSES))
      assert.ok(
        [...pw].some((ch) => set.includes(ch)),
        pw,
      );
    seen.add(pw);
  }
  assert.equal(seen.size, 200);
});

test('classes and --no-ambiguous restrict the alphabet', () => {
  for (let i = 0; i < 100; i++) {
    const pw = generatePassword({ length: 64, classes: ['upper', 'digits'], noAmbiguous: true }).reveal();
    assert.match(pw, /^[A-Z2-9]+$/);
    assert.ok(![...pw].some((ch) => AMBIGUOUS_CHARACTERS.includes(ch)), pw);
    assert.match(pw, /[0-9]/);
  }
});

test('roughly uniform over the alphabet (no modulo bias)', () => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    for (const ch of generatePassword({ length: 100, classes: ['digits'] }).reveal())
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  // 40 000 draws over 10 digits: each near 4 000; a biased generator would be far off.
  for (const [, n] of counts) assert.ok(n > 3_600 && n < 4_400, String(n));
});

test('bad options are coded errors naming the flag', () => {
  assert.throws(() => generatePassword({ length: 8 }), { code: 'PGW_CREDS_INVALID', option: '--length' });
  assert.throws(() => generatePassword({ length: 20.5 }), { code: 'PGW_CREDS_INVALID' });
  assert.throws(() => generatePassword({ classes: [] }), { code: 'PGW_CREDS_INVALID', option: '--classes' });
  assert.throws(() => parseClasses('lower,emoji'), { code: 'PGW_CREDS_INVALID', option: '--classes' });
  assert.deepEqual(parseClasses('lower, digits'), ['lower', 'digits']);
});

test('never starts with "{", which secrets backends read as JSON first (issue 12, item 13)', () => {
  // Symbols only: "{" is 1 of 26 characters, so about 770 of these started with it before.
  for (let i = 0; i < 20_000; i++) {
    const pw = generatePassword({ length: 16, classes: ['symbols'] }).reveal();
    assert.notEqual(pw[0], '{', pw);
  }
  // "{" is still drawn elsewhere: only the first position is excluded.
  const some = Array.from({ length: 2_000 }, () =>
    generatePassword({ length: 16, classes: ['symbols'] }).reveal(),
  );
  assert.ok(some.some((pw) => pw.includes('{')));
});
