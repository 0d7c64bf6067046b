/**
 * createPool(): a WardenPool (a real pg.Pool) that is proven to work before
 * it is returned: config resolved and judged by the connection gate, one
 * connection opened (credentials and TLS verified) and the role checked.
 */
import type { CreatePoolOptions } from './pool-options.js';
import { WardenPool } from './warden-pool.js';

export type { CreatePoolOptions } from './pool-options.js';
export { resolveWithSecrets } from './pool-credentials.js';
export {
  WardenPool,
  poolFromResolution,
  type PoolStats,
  type QueryInput,
  type StartupReport,
  type TransactionClient,
  type WardenPoolEvents,
} from './warden-pool.js';

/**
 * Creates a pool and proves it works; throws a coded error instead of
 * returning a pool that cannot work or is not secure. The one-line change
 * from node-postgres: `new pg.Pool(options)` becomes `await createPool(options)`,
 * with pg's options accepted as they are.
 */
export async function createPool(options: CreatePoolOptions = {}): Promise<WardenPool> {
  const pool = new WardenPool(options);
  try {
    await pool.ready();
  } catch (error) {
    await pool.close();
    throw error;
  }
  return pool;
}
