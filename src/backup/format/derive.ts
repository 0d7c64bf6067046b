/**
 * Keys derived from a file's random data key with HKDF-SHA256 (RFC 5869),
 * salted with the file salt: one for the payload, one for the manifest's
 * HMAC. The data key itself never encrypts anything.
 */
import { hkdfSync } from 'node:crypto';
import { INFO_MANIFEST, INFO_PAYLOAD, KEY_LENGTH } from './constants.js';

function derive(dataKey: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, salt, info, KEY_LENGTH));
}

/** The AES-256-GCM key of the chunks. */
export function payloadKey(dataKey: Buffer, salt: Buffer): Buffer {
  return derive(dataKey, salt, INFO_PAYLOAD);
}

/** The HMAC-SHA256 key that authenticates the manifest. */
export function manifestKey(dataKey: Buffer, salt: Buffer): Buffer {
  return derive(dataKey, salt, INFO_MANIFEST);
}

/** Nonce of chunk `index`: prefix || u32 BE counter || last-chunk flag. */
export function chunkNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(prefix.length + 5);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, prefix.length);
  nonce[prefix.length + 4] = last ? 1 : 0;
  return nonce;
}
