import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default iteration count (scram_iterations). */
const DEFAULT_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password`, computed here
 * so that `CREATE ROLE … PASSWORD` sends the verifier instead of the password.
 * The plaintext then never reaches the server, its statement log or an error
 * message that quotes the statement; `psql`'s `\password` works the same way.
 *
 * The password is normalised as the `pg` driver does before hashing (RFC 4013
 * SASLprep mapping + NFKC), so roles created here authenticate with `pg`.
 */
export function scramSha256Verifier(password: string, iterations = DEFAULT_ITERATIONS): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The mapping steps of SASLprep, matching pg's implementation (lib/crypto/sasl.js). */
function saslPrep(password: string): string {
  const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
  // eslint-disable-next-line no-misleading-character-class -- these are the RFC 3454 B.1 code points on purpose
  const mappedToNothing = /[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
  return password.replace(nonAsciiSpace, ' ').replace(mappedToNothing, '').normalize('NFKC');
}
