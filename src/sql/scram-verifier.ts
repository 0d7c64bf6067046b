/**
 * SCRAM-SHA-256 verifiers computed on the client, as `psql`'s `\password`
 * does: `ALTER ROLE … PASSWORD 'SCRAM-SHA-256$…'` stores the verifier as is,
 * so the plaintext never reaches the server, its statement log
 * (`log_statement = 'all'`) or an error message that quotes the statement.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { SqlError } from '../errors.js';
import { isSecret, type Secret } from '../redact/secret.js';

/** PostgreSQL's default `scram_iterations` (and the only value before PostgreSQL 16). */
export const DEFAULT_SCRAM_ITERATIONS = 4096;

/** Options of {@link scramSha256Verifier}. */
export interface ScramVerifierOptions {
  /** PBKDF2 iterations. Default 4096, PostgreSQL's default; use the server's `scram_iterations` where it exists. */
  iterations?: number;
  /** The salt. Default: 16 random bytes (as PostgreSQL). Fixed salts are for tests only. */
  salt?: Buffer;
}

/** The parts of a verifier `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. */
export interface ScramVerifierParts {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password`.
 *
 * The password is normalised as the `pg` driver does before hashing (RFC 4013
 * SASLprep mapping + NFKC), so roles set up with it authenticate with `pg`.
 *
 * @throws SqlError `PGW_SQL_INVALID` for an empty password or iterations outside 1…2^31-1.
 */
export function scramSha256Verifier(
  password: string | Secret,
  options: number | ScramVerifierOptions = {},
): string {
  const { iterations = DEFAULT_SCRAM_ITERATIONS, salt = randomBytes(16) } =
    typeof options === 'number' ? { iterations: options } : options;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 2_147_483_647) {
    throw new SqlError('PGW_SQL_INVALID', `SCRAM iterations must be an integer from 1 to 2147483647.`, {
      option: 'iterations',
      fix: "Use the server's scram_iterations (default 4096).",
    });
  }
  const plain = isSecret(password) ? password.reveal() : password;
  if (plain.length === 0) {
    throw new SqlError('PGW_SQL_INVALID', 'A SCRAM verifier needs a non-empty password.', {
      option: 'password',
    });
  }
  const { storedKey, serverKey } = scramKeys(plain, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Splits a verifier into its parts, or returns undefined when it is not a SCRAM-SHA-256 verifier. */
export function parseScramVerifier(verifier: string): ScramVerifierParts | undefined {
  const match = VERIFIER.exec(verifier);
  if (!match) return undefined;
  return {
    iterations: Number(match[1]),
    salt: Buffer.from(match[2] ?? '', 'base64'),
    storedKey: Buffer.from(match[3] ?? '', 'base64'),
    serverKey: Buffer.from(match[4] ?? '', 'base64'),
  };
}

/** True when `password` matches `verifier` (recomputes the keys with the verifier's salt and iterations). */
export function scramVerifierMatches(verifier: string, password: string | Secret): boolean {
  const parts = parseScramVerifier(verifier);
  if (!parts) return false;
  const plain = isSecret(password) ? password.reveal() : password;
  const { storedKey, serverKey } = scramKeys(plain, parts.salt, parts.iterations);
  return storedKey.equals(parts.storedKey) && serverKey.equals(parts.serverKey);
}

function scramKeys(
  password: string,
  salt: Buffer,
  iterations: number,
): { storedKey: Buffer; serverKey: Buffer } {
  const salted = pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return {
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: createHmac('sha256', salted).update('Server Key').digest(),
  };
}

/** The mapping steps of SASLprep, matching pg's implementation (lib/crypto/sasl.js). */
function saslPrep(password: string): string {
  const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
  // eslint-disable-next-line no-misleading-character-class -- these are the RFC 3454 B.1 code points on purpose
  const mappedToNothing = /[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
  return password.replace(nonAsciiSpace, ' ').replace(mappedToNothing, '').normalize('NFKC');
}

/** Anything that runs a query: a `WardenPool`, a transaction client or a pg client. */
interface Queryable {
  query(text: string): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * The server's `scram_iterations` (PostgreSQL 16+), else 4096. Read from
 * pg_settings rather than `SHOW`, which would fail (and abort a transaction)
 * on servers that do not have the setting.
 */
export async function serverScramIterations(db: Queryable): Promise<number> {
  const { rows } = await db.query("SELECT setting FROM pg_settings WHERE name = 'scram_iterations'");
  const value = Number(rows[0]?.setting);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_SCRAM_ITERATIONS;
}
