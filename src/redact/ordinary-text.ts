/**
 * Which secret values may be matched bare, anywhere in a string. A password
 * such as `postgres` is also a word of every report (`postgresql.org`,
 * `Superuser(s): postgres`), and replacing the word everywhere destroys the
 * output without protecting anything: a weak value is refused by the
 * production policy (`PGW_POLICY_WEAK_PASSWORD`), and where a password
 * really appears in text (a URL's user info, `password=…` pairs) the shape
 * patterns of the redactor remove it whatever its value.
 *
 * So exact matching is kept for values that could not be ordinary text:
 * long ones, and ones mixing characters the way only generated secrets do.
 */

/** Values shorter than this are never matched bare. */
export const MIN_EXACT_MATCH_LENGTH = 8;
/** Values at least this long are always matched bare, whatever they look like. */
export const ALWAYS_EXACT_MATCH_LENGTH = 24;

/**
 * Words, identifiers and host names: letters, then parts joined by a space,
 * `.`, `_` or `-`, each part letters or digits, then optional digits
 * (`postgres`, `app_user`, `db-1.example.com`, `password123`, `PostgreSQL 15.4`).
 */
const WORDLIKE = /^[A-Za-z]+(?:[ ._-](?:[A-Za-z]+|[0-9]+))*[0-9]*$/;
/** Numbers, versions, dates, addresses (`5432`, `15.4`, `2026-12-01`, `10.0.0.5`). */
const NUMBERLIKE = /^[0-9]+(?:[ .,:_/-][0-9]+)*$/;

/** True when `value` could be a word, name or number of ordinary output. */
export function couldBeOrdinaryText(value: string): boolean {
  if (value.length < MIN_EXACT_MATCH_LENGTH) return true;
  if (value.length >= ALWAYS_EXACT_MATCH_LENGTH) return false;
  return WORDLIKE.test(value) || NUMBERLIKE.test(value);
}
