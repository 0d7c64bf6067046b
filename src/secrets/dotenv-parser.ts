/**
 * A small, strict parser for `.env` files.
 *
 * Supported: `KEY=VALUE`, an optional `export ` prefix, blank lines, `#`
 * comment lines, trailing ` # comments` after unquoted and quoted values,
 * single quotes (literal), double quotes (with `\n \r \t \" \\` escapes),
 * backticks (literal), values spanning lines inside quotes, CRLF line ends.
 * Not supported, on purpose: `${VAR}` expansion and command substitution,
 * which would let a .env file read other secrets or run code.
 *
 * Node's own `util.parseEnv` (20.12+) is not used: it is missing on Node
 * 20.10, which we support, and it truncates `"a \"quoted\" word"` at the
 * escaped quote. A password silently cut short fails authentication far from
 * its cause, so malformed lines are errors here, reported by line number and
 * never with their content.
 */

/** A malformed line; carries the 1-based line number and no file content. */
export class DotenvSyntaxError extends Error {
  readonly line: number;
  constructor(line: number, problem: string) {
    super(`line ${line}: ${problem}`);
    this.name = 'DotenvSyntaxError';
    this.line = line;
  }
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };

/** Parses `.env` text into a map; later assignments of a key win, as in shells and dotenv. */
export function parseDotenv(text: string): Map<string, string> {
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const out = new Map<string, string>();
  let pos = 0;
  let line = 1;

  while (pos < src.length) {
    const end = indexOrEnd(src, '\n', pos);
    const raw = src.slice(pos, end);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      pos = end + 1;
      line += 1;
      continue;
    }

    const startLine = line;
    let rest = raw.replace(/^\s+/, '');
    if (/^export\s+/.test(rest)) rest = rest.replace(/^export\s+/, '');
    const eq = rest.indexOf('=');
    if (eq < 0) throw new DotenvSyntaxError(startLine, 'expected KEY=VALUE.');
    const key = rest.slice(0, eq).trim();
    if (!KEY.test(key)) throw new DotenvSyntaxError(startLine, 'the key is not a valid variable name.');

    // Offset of the value in `src`, after `=` and any blanks.
    let valueStart = end - raw.length + (raw.length - rest.length) + eq + 1;
    while (src[valueStart] === ' ' || src[valueStart] === '\t') valueStart += 1;
    const quote = src[valueStart];

    if (quote === '"' || quote === "'" || quote === '`') {
      const parsed = readQuoted(src, valueStart, quote, startLine);
      out.set(key, parsed.value);
      line = startLine + countNewlines(src, valueStart, parsed.end);
      const lineEnd = indexOrEnd(src, '\n', parsed.end);
      const tail = src.slice(parsed.end, lineEnd).trim();
      if (tail !== '' && !tail.startsWith('#')) {
        throw new DotenvSyntaxError(line, 'unexpected text after the closing quote.');
      }
      pos = lineEnd + 1;
      line += 1;
      continue;
    }

    // Unquoted: a comment starts at a `#` preceded by whitespace, as in shells,
    // so `pa#ss` keeps its `#`.
    let value = src.slice(valueStart, end);
    const comment = value.search(/\s#/);
    if (comment >= 0) value = value.slice(0, comment);
    out.set(key, value.trim());
    pos = end + 1;
    line += 1;
  }
  return out;
}

function readQuoted(src: string, start: number, quote: string, line: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  while (i < src.length) {
    const ch = src[i] as string;
    if (ch === quote) return { value, end: i + 1 };
    if (quote === '"' && ch === '\\' && i + 1 < src.length) {
      const next = src[i + 1] as string;
      value += ESCAPES[next] ?? `\\${next}`;
      i += 2;
      continue;
    }
    value += ch;
    i += 1;
  }
  throw new DotenvSyntaxError(line, `the ${quote} quote is never closed.`);
}

function indexOrEnd(text: string, search: string, from: number): number {
  const index = text.indexOf(search, from);
  return index < 0 ? text.length : index;
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i += 1) if (text[i] === '\n') n += 1;
  return n;
}
