/** `pgwarden/secrets/vault`: HashiCorp Vault (KV v1/v2, and the database engine's dynamic users). */
export { createVaultProvider } from './vault.js';
export { createVaultDatabaseProvider } from './vault-database.js';
