import type { SslMode } from './schema.js';
import type { Secret } from '../redact/secret.js';

/**
 * What a secrets backend returns. Only `password` is secret; every other field
 * may be shown by `pgwarden doctor`.
 */
export interface Credentials {
  /** The login role. Dynamic backends (Vault database engine, alternating users) change it. */
  user?: string | undefined;
  password?: Secret | undefined;
  /** Connection fields some secret formats carry (the RDS JSON format does). */
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  /** TLS settings stored with the credentials (the keychain store keeps them per environment). */
  sslMode?: SslMode | undefined;
  /** A CA file path or PEM, or `system`; not a secret. */
  sslRootCert?: string | undefined;
  /** When the backend says these credentials stop working (lease end, token expiry). */
  expiresAt?: Date | undefined;
  /** A backend-side version id (AWS VersionId, Vault KV version, lease id), never a secret. */
  version?: string | undefined;
  /**
   * The password is a short-lived token minted for opening connections (RDS
   * IAM): a new token is not a rotation, and open connections stay valid.
   * Added by the providers layer.
   */
  passwordIsToken?: boolean | undefined;
}
