/**
 * Wraps a data key under a key-encryption key with AES-256-GCM (used by the
 * key-file and passphrase sources; KMS and Vault wrap on their side). The
 * backup id is the additional data, so a wrapped key only opens its own file.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { NONCE_LENGTH, TAG_LENGTH, WRAP_AAD_PREFIX } from '../format/constants.js';

export function wrapKey(kek: Buffer, dataKey: Buffer, backupId: string): { nonce: string; wrapped: string } {
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.from(WRAP_AAD_PREFIX + backupId, 'utf8'));
  const wrapped = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString('base64'), wrapped: wrapped.toString('base64') };
}

/** The data key, or `undefined` when this KEK (or the backup id) does not authenticate it. */
export function unwrapKey(kek: Buffer, nonce: string, wrapped: string, backupId: string): Buffer | undefined {
  const sealed = Buffer.from(wrapped, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(nonce, 'base64'), {
    authTagLength: TAG_LENGTH,
  });
  decipher.setAAD(Buffer.from(WRAP_AAD_PREFIX + backupId, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const dataKey = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
  try {
    decipher.final();
    return dataKey;
  } catch {
    dataKey.fill(0);
    return undefined;
  }
}
