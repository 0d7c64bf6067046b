/**
 * Text that came from the server (query text, role, database and
 * application names, error messages) made safe to print. Any of it can be
 * chosen by whoever can connect: `SELECT 1 /* ESC]0;title BEL ESC[2J *\/`
 * sits in pg_stat_activity verbatim, a role may be called "a\nDROP TABLE t;",
 * and a terminal obeys escape sequences (clear the screen, set the title,
 * rewrite earlier lines, on some terminals far worse), a `-- comment` ends at
 * a newline *or* a carriage return, and bidirectional controls reorder what
 * a reader sees.
 *
 * Control characters are therefore shown as visible escapes (`\x1b`, `\n`,
 * `\u202e`): C0 (U+0000-U+001F), DEL, C1 (U+0080-U+009F, where U+009B is a
 * one-character CSI), the bidirectional controls (marks, embeddings,
 * overrides, isolates) and the Unicode line and paragraph separators. Everything else, including
 * non-ASCII letters, is kept. Used at the formatting layer, where text meets
 * a terminal or a file meant for one; JSON output needs nothing (JSON escapes
 * control characters itself).
 */

/** Characters never printed raw. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
/** The same, minus newline and tab, for text that is multi-line by design. */
const CONTROL_IN_TEXT =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Whether `text` holds a character {@link terminalLine} would escape. */
export function hasControlCharacters(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}

/** One line: every control character escaped, newlines included. */
export function terminalLine(text: string): string {
  return text.replace(CONTROL, escape);
}

/** Multi-line text: newline and tab kept, every other control character escaped. */
export function terminalText(text: string): string {
  return text.replace(CONTROL_IN_TEXT, escape);
}

/**
 * A copy of plain data (objects, arrays) with every string passed through
 * `neutralize` ({@link terminalLine} by default), for a formatter to work
 * on: one call covers every field it may print. Other values (numbers,
 * dates, class instances) are kept as they are.
 */
export function terminalSafe<T>(value: T, neutralize: (text: string) => string = terminalLine): T {
  if (typeof value === 'string') return neutralize(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => terminalSafe(item, neutralize)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, terminalSafe(item, neutralize)]),
    ) as T;
  }
  return value;
}
