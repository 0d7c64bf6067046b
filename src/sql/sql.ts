/**
 * A tagged template that can only produce parameterized queries: every
 * interpolated value becomes `$n`. Identifiers go through `sql.ident()`,
 * other fragments compose with nested `sql` templates; raw strings cannot be
 * spliced in, which closes the usual injection paths.
 */
import { SqlError } from '../errors.js';

const FRAGMENT = Symbol('pgwarden.sql');

/** A piece of SQL with its parameters; pass it to `pool.query()`. */
export class SqlFragment {
  readonly [FRAGMENT] = true;
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  /** The `{ text, values }` pair pg expects, with `$1…$n` placeholders. */
  toQuery(): { text: string; values: unknown[] } {
    const values: unknown[] = [];
    const text = render(this, values);
    return { text, values };
  }
}

class Identifier {
  constructor(readonly quoted: string) {}
}

function render(fragment: SqlFragment, values: unknown[]): string {
  let text = fragment.strings[0] ?? '';
  fragment.values.forEach((value, i) => {
    if (value instanceof SqlFragment) text += render(value, values);
    else if (value instanceof Identifier) text += value.quoted;
    else {
      values.push(value);
      text += `$${values.length}`;
    }
    text += fragment.strings[i + 1] ?? '';
  });
  return text;
}

/** Quotes one identifier part, doubling embedded quotes, as PostgreSQL's quote_ident does. */
export function quoteIdentifier(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw new SqlError('PGW_SQL_INVALID', 'An SQL identifier must be a non-empty string without NUL bytes.', {
      option: 'sql.ident',
      fix: 'Pass the table, column or role name as a plain string.',
    });
  }
  return `"${name.replace(/"/g, '""')}"`;
}

export interface SqlTag {
  (strings: TemplateStringsArray, ...values: unknown[]): SqlFragment;
  /** An identifier (`sql.ident('public', 'users')` → `"public"."users"`). */
  ident(...parts: string[]): Identifier;
  /** Joins fragments or values with a separator fragment (default `, `). */
  join(items: readonly unknown[], separator?: SqlFragment): SqlFragment;
}

/**
 * True for the strings array of a real tagged-template call: frozen, with a
 * frozen `raw` of the same length, one more string than values. An array a
 * caller builds (`sql([userText])`) is none of these, and would otherwise be
 * rendered as raw SQL.
 */
function isTemplateStrings(strings: unknown, values: readonly unknown[]): strings is TemplateStringsArray {
  if (!Array.isArray(strings) || !Object.isFrozen(strings)) return false;
  const raw = (strings as { raw?: unknown }).raw;
  return (
    Array.isArray(raw) &&
    Object.isFrozen(raw) &&
    raw.length === strings.length &&
    strings.length === values.length + 1 &&
    strings.every((part) => typeof part === 'string')
  );
}

export const sql: SqlTag = Object.assign(
  (strings: TemplateStringsArray, ...values: unknown[]) => {
    if (!isTemplateStrings(strings, values)) {
      throw new SqlError(
        'PGW_SQL_INVALID',
        'sql must be used as a tagged template (sql`…`), not called with an array.',
        {
          option: 'sql',
          fix: 'Write sql`SELECT … WHERE id = ${id}`: values become $n parameters; identifiers go through sql.ident().',
        },
      );
    }
    return new SqlFragment(strings, values);
  },
  {
    ident: (...parts: string[]) => new Identifier(parts.map(quoteIdentifier).join('.')),
    join(items: readonly unknown[], separator: SqlFragment = new SqlFragment([', '], [])): SqlFragment {
      const strings: string[] = [''];
      const values: unknown[] = [];
      items.forEach((item, i) => {
        if (i > 0) {
          values.push(separator);
          strings.push('');
        }
        values.push(item);
        strings.push('');
      });
      return new SqlFragment(strings, values);
    },
  },
);

export function isSqlFragment(value: unknown): value is SqlFragment {
  return value instanceof SqlFragment;
}
