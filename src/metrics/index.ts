/** `pgwarden/metrics`: Prometheus metrics of a pool (prom-client loads only here). */
export { instrumentPool, metricsHandler } from './metrics.js';
export type { PoolMetrics, PoolMetricsOptions } from './metrics.js';
