/**
 * SQL a plan prints, safe to read on a terminal and to run with `psql -f`.
 * Names from the catalog are chosen by whoever created the objects, and
 * PostgreSQL allows any character but NUL in them; quoted, a newline or an
 * escape sequence is harmless to the parser but not to the terminal showing
 * the plan, nor to a reader. A quoted identifier holding a control character
 * is therefore rewritten in PostgreSQL's Unicode-escape form
 * (`U&"t\000a; DROP…"`): the very same name, in printable characters only.
 * (`U&"…"` identifiers work whatever standard_conforming_strings says.)
 */
import { ConfigError } from '../errors.js';
import { hasControlCharacters, terminalLine } from '../text/terminal-text.js';

/** `"a<LF>b"` → `U&"a\000ab"`; backslashes doubled, quotes stay doubled. */
function unicodeIdentifier(quoted: string): string {
  const body = quoted.slice(1, -1);
  let out = '';
  for (const char of body) {
    if (char === '\\') out += '\\\\';
    else if (hasControlCharacters(char)) {
      const code = char.codePointAt(0)!;
      out +=
        code > 0xffff
          ? `\\+${code.toString(16).padStart(6, '0')}`
          : `\\${code.toString(16).padStart(4, '0')}`;
    } else out += char;
  }
  return `U&"${out}"`;
}

/**
 * Rewrites the quoted identifiers of `sql` that hold control characters.
 * String literals are skipped (their values come from the validated roles
 * file); a control character anywhere else is a bug, refused rather than
 * printed.
 */
export function printableSql(sql: string): string {
  if (!hasControlCharacters(sql)) return sql;
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      const quoted = sql.slice(i, j + 1);
      if (!hasControlCharacters(quoted)) out += quoted;
      else if (out.endsWith('U&')) throw unprintable(sql);
      else out += unicodeIdentifier(quoted);
      i = j + 1;
    } else if (c === "'") {
      const escapes = /(^|[^A-Za-z0-9_])[eE]$/.test(out);
      let j = i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      const literal = sql.slice(i, j + 1);
      if (hasControlCharacters(literal)) throw unprintable(sql);
      out += literal;
      i = j + 1;
    } else {
      if (hasControlCharacters(c)) throw unprintable(sql);
      out += c;
      i++;
    }
  }
  return out;
}

function unprintable(sql: string): ConfigError {
  return new ConfigError(
    'PGW_CONFIG_INVALID',
    `A planned statement holds a control character outside a quoted name (${terminalLine(sql.slice(0, 80))}).`,
    { option: '--file', fix: 'Remove control characters from the values of the roles file.' },
  );
}
