import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as util from 'node:util';
import { DotenvSyntaxError, parseDotenv } from './dotenv-parser.js';

const parse = (text: string) => Object.fromEntries(parseDotenv(text));

describe('parseDotenv', () => {
  test('KEY=VALUE, export prefix, comments, blank lines, CRLF', () => {
    const text = '# header\r\nA=1\r\n\r\nexport B=two\r\n   # indented comment\r\n C = spaced \r\n';
    assert.deepEqual(parse(text), { A: '1', B: 'two', C: 'spaced' });
  });

  test('unquoted values: a # starts a comment only after whitespace', () => {
    assert.deepEqual(parse('A=pa#ss\nB=value # comment\nC=x=y'), { A: 'pa#ss', B: 'value', C: 'x=y' });
  });

  test('single quotes and backticks are literal', () => {
    assert.deepEqual(parse(`A='a $B \\n "x" # not a comment'\nB=\`it's\``), {
      A: 'a $B \\n "x" # not a comment',
      B: "it's",
    });
  });

  test('double quotes process escapes, including escaped quotes', () => {
    assert.deepEqual(parse('A="line1\\nline2\\t\\"q\\" \\\\ end" # c'), { A: 'line1\nline2\t"q" \\ end' });
  });

  test('quoted values may span lines, and line numbers stay right after them', () => {
    const text = 'A="one\ntwo"\nB=ok\nC';
    assert.throws(
      () => parseDotenv(text),
      (e: DotenvSyntaxError) => e.line === 4,
    );
    assert.deepEqual(parse('A="one\ntwo"\nB=ok'), { A: 'one\ntwo', B: 'ok' });
  });

  test('no ${VAR} expansion', () => {
    assert.deepEqual(parse('A=1\nB=${A}\nC="$A"'), { A: '1', B: '${A}', C: '$A' });
  });

  test('empty values and a later key win', () => {
    assert.deepEqual(parse('A=\nB=""\nA=second'), { A: 'second', B: '' });
  });

  test('a BOM is ignored', () => {
    assert.deepEqual(parse('\uFEFFA=1'), { A: '1' });
  });

  test('malformed lines are errors naming the line, never its content', () => {
    const secret = 'hunter2-secret-value';
    for (const [text, line] of [
      [`A=1\n${secret}`, 2],
      [`A="${secret}`, 1],
      [`A="${secret}" trailing`, 1],
      [`1BAD=${secret}`, 1],
      [`A B=${secret}`, 1],
    ] as const) {
      assert.throws(
        () => parseDotenv(text),
        (e: unknown) => {
          assert.ok(e instanceof DotenvSyntaxError);
          assert.equal(e.line, line);
          assert.ok(!e.message.includes(secret));
          return true;
        },
      );
    }
  });

  test('agrees with util.parseEnv on the common subset (when available)', (t) => {
    const parseEnv = (util as { parseEnv?: (text: string) => Record<string, string> }).parseEnv;
    if (typeof parseEnv !== 'function') {
      t.skip('util.parseEnv needs Node 20.12+');
      return;
    }
    const text = [
      'A=1',
      'export B=two',
      'C="quoted # not a comment"',
      "D='single $x'",
      'E=unquoted # trailing comment',
      'F="multi\nline"',
      'G="esc\\nnew"',
      'H=',
      ' I = spaced ',
      // Not 'J=x=y': Node 20.19's parseEnv also yields x=y from it (fixed by 20.20); line 15 covers it.
    ].join('\n');
    assert.deepEqual(parse(text), { ...parseEnv(text) });
  });
});
