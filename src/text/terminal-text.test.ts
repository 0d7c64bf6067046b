// Server text made safe for a terminal: escapes visible, nothing else changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasControlCharacters, terminalLine, terminalSafe, terminalText } from './terminal-text.js';

test('ESC, BEL, CR, C1 CSI and bidi overrides become visible escapes; letters stay', () => {
  const hostile = 'SELECT 1 /* \u001b]0;owned\u0007\u001b[2J */\r\u009b31m \u202egnp.exe';
  const line = terminalLine(hostile);
  assert.equal(line, 'SELECT 1 /* \\x1b]0;owned\\x07\\x1b[2J */\\r\\x9b31m \\u202egnp.exe');
  assert.equal(hasControlCharacters(line), false);
  assert.equal(
    terminalLine('Grüße, 東京, emoji 👍, Persian می‌خواهم'),
    'Grüße, 東京, emoji 👍, Persian می‌خواهم',
  );
});

test('terminalLine escapes newlines and tabs; terminalText keeps them', () => {
  assert.equal(terminalLine('a\nb\tc\u2028d'), 'a\\nb\\tc\\u2028d');
  assert.equal(terminalText('a\nb\tc\u001bd\re'), 'a\nb\tc\\x1bd\\re');
});

test('terminalSafe copies plain data with every string neutralised', () => {
  const date = new Date(0);
  const input = { name: 'x\u001b', list: ['\u0007', 3, null], nested: { at: date, ok: true } };
  const safe = terminalSafe(input);
  assert.deepEqual(safe, { name: 'x\\x1b', list: ['\\x07', 3, null], nested: { at: date, ok: true } });
  assert.equal(input.name, 'x\u001b', 'the input is not changed');
  assert.equal(safe.nested.at, date);
});
