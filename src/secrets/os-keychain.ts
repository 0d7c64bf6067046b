/** `pgwarden/secrets/keychain`: credentials stored by `pgwarden creds` in the OS keychain (@napi-rs/keyring loads on first use). */
export { createKeychainProvider } from './keychain.js';
