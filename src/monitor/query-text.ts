/**
 * Query text shown by `monitor` and `alerts` comes from pg_stat_activity and
 * pg_stat_statements, which hold statements verbatim: `ALTER ROLE app
 * PASSWORD 'hunter2'` sits there in clear until the session moves on (and in
 * pg_stat_statements for good, before PostgreSQL 16). Every string literal is
 * therefore replaced, as pg_stat_statements does with constants, before the
 * usual redaction and truncation.
 */
import { redact } from '../redact/redactor.js';

/** What a string literal is replaced with. */
export const LITERAL_PLACEHOLDER = "'?'";

/** Default length of query text in snapshots and reports. */
export const DEFAULT_QUERY_TEXT_LENGTH = 200;

/**
 * Replaces string literals (`'…'`, `E'…'`, `U&'…'`, `$tag$…$tag$`) with
 * {@link LITERAL_PLACEHOLDER}, skipping comments and quoted identifiers so an
 * apostrophe inside them does not open a literal. An unterminated literal
 * (text cut by track_activity_query_size) is replaced up to the end.
 */
export function maskLiterals(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      out += sql.slice(i, Math.min(j + 1, n));
      i = j + 1;
    } else if (c === "'") {
      // E'…' allows backslash escapes; the prefix letter was already copied.
      const escapes = /[eE]$/.test(out) && !/[A-Za-z0-9_$][eE]$/.test(out);
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      out += LITERAL_PLACEHOLDER;
      i = j + 1;
    } else if (c === '$' && !/[A-Za-z0-9_$]$/.test(out)) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (!tag) {
        out += c;
        i++;
        continue;
      }
      const end = sql.indexOf(tag[0], i + tag[0].length);
      out += LITERAL_PLACEHOLDER;
      i = end === -1 ? n : end + tag[0].length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * Query text safe to print: literals masked, secrets redacted, whitespace
 * collapsed to one line, cut to `maxLength` characters with an ellipsis.
 */
export function redactQueryText(
  text: string | null | undefined,
  maxLength = DEFAULT_QUERY_TEXT_LENGTH,
): string | null {
  if (text === null || text === undefined) return null;
  const single = redact(maskLiterals(text)).replace(/\s+/g, ' ').trim();
  return single.length > maxLength ? `${single.slice(0, Math.max(0, maxLength - 1))}…` : single;
}
