/** `pgwarden/monitor`: a snapshot of connections, long and slow queries and database counters. */
export { takeSnapshot } from './snapshot.js';
export type {
  MonitorSnapshot,
  SnapshotOptions,
  SnapshotSource,
  SessionInfo,
  LongRunningQuery,
  IdleInTransactionSession,
  DatabaseStats,
} from './snapshot.js';
export type { SlowStatement, SlowStatements } from './statements.js';
export { formatSnapshot } from './format-snapshot.js';
