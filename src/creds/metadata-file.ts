/**
 * `$PGWARDEN_HOME/credentials.json`: the non-secret metadata of every
 * environment, in the format the `keychain` secrets backend reads
 * (src/secrets/keychain-store-format.ts). Directory 0700, file 0600, written
 * atomically (temporary file, fsync, rename) so a crash never leaves half a
 * file behind.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadZod } from '../config/zod.js';
import {
  KEYCHAIN_STORE_FILE,
  KEYCHAIN_STORE_VERSION,
  KeychainStoreFormatError,
  parseKeychainStore,
} from '../secrets/keychain-store-format.js';
import { CredsError } from './creds-error.js';
import { storedEnvironmentSchema, type StoredEnvironment } from './environment.js';
import { ENVIRONMENT_NAME } from '../secrets/keychain-store-format.js';

// One zod per process: config/zod.ts.
const z = loadZod();

const fileSchema = z.object({
  version: z.literal(KEYCHAIN_STORE_VERSION),
  environments: z.record(z.string().regex(ENVIRONMENT_NAME), storedEnvironmentSchema),
});

export type MetadataFile = Record<string, StoredEnvironment>;

export function metadataPath(home: string): string {
  return join(home, KEYCHAIN_STORE_FILE);
}

/** Reads every environment; an absent file is an empty store. */
export async function readMetadata(home: string): Promise<MetadataFile> {
  const file = metadataPath(home);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CredsError('PGW_CREDS_METADATA_INVALID', `${file} cannot be read.`, {
      option: 'PGWARDEN_HOME',
      fix: `Check that ${file} belongs to you and is readable (mode 0600).`,
      cause: error,
    });
  }
  try {
    // The shared parser refuses secret-looking keys and newer versions; ours keeps the creds-only fields.
    parseKeychainStore(text);
    return fileSchema.parse(JSON.parse(text)).environments;
  } catch (error) {
    const reason =
      error instanceof KeychainStoreFormatError
        ? error.message
        : error instanceof z.ZodError
          ? `${error.issues[0]?.path.join('.') ?? ''}: ${error.issues[0]?.message ?? 'invalid'}`
          : 'unreadable';
    throw new CredsError(
      'PGW_CREDS_METADATA_INVALID',
      `${file} is not a valid credentials file: ${reason}.`,
      {
        option: 'PGWARDEN_HOME',
        fix: `Repair the file by hand (see docs/creds.md) or move it away and add the environments again.`,
      },
    );
  }
}

/** Replaces the file with `environments`, creating the directory (0700) when needed. */
export function writeMetadata(home: string, environments: MetadataFile): void {
  const file = metadataPath(home);
  const sorted = Object.fromEntries(Object.entries(environments).sort(([a], [b]) => a.localeCompare(b)));
  const text = `${JSON.stringify(fileSchema.parse({ version: KEYCHAIN_STORE_VERSION, environments: sorted }), null, 2)}\n`;
  ensurePrivateDir(home);
  writeFileAtomic(file, text);
}

/** Creates `dir` with mode 0700, or tightens it when this user owns it. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    if ((stat.mode & 0o077) !== 0 && stat.uid === process.getuid?.()) chmodSync(dir, 0o700);
  } catch (error) {
    throw writeError(dir, error);
  }
}

/** Writes `text` to `file` (mode 0600) through a temporary file and a rename. */
export function writeFileAtomic(file: string, text: string): void {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, file);
    chmodSync(file, 0o600);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw writeError(file, error);
  }
}

function writeError(path: string, error: unknown): CredsError {
  return new CredsError('PGW_CREDS_STORE_WRITE_FAILED', `${path} cannot be written.`, {
    option: 'PGWARDEN_HOME',
    fix: `Check that PGWARDEN_HOME (${path}) is a writable directory owned by you.`,
    cause: error,
  });
}
