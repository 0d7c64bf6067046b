import { existsSync, readFileSync, rmSync } from 'node:fs';
import { releaseOrphanedSharedMemory } from './sysv-shm.js';

/** What the exit hook needs to know about a cluster that has not been stopped. */
export interface TrackedCluster {
  readonly dir: string;
  readonly dataDir: string;
  /** Leave `dir` on disk (the cluster was started with `keep: true`). */
  readonly keep: boolean;
  /** The postmaster's PID while it runs, else `undefined`. */
  livePid(): number | undefined;
}

/**
 * No orphans: every cluster between start and stop() is listed here, and when
 * the process ends (normally, process.exit(), an uncaught exception, SIGINT,
 * SIGTERM or SIGHUP) its postmaster is shut down and its directory removed.
 *
 * Only SIGKILL of this process itself (or a crash of Node) escapes; the README
 * in test/ says how to clean up by hand then.
 */
const tracked = new Set<TrackedCluster>();

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let exitHookInstalled = false;
let signalHooksInstalled = false;

/** Adds `cluster` to the exit cleanup. */
export function track(cluster: TrackedCluster): void {
  tracked.add(cluster);
  if (!exitHookInstalled) {
    // 'exit' listeners never change how or when the process exits, so this one stays.
    process.on('exit', cleanupAll);
    exitHookInstalled = true;
  }
  installSignalHooks();
}

/** Removes `cluster` from the exit cleanup (it was stopped and cleaned up). */
export function untrack(cluster: TrackedCluster): void {
  tracked.delete(cluster);
  // With nothing to clean up, the process gets Node's default signal behaviour back.
  if (tracked.size === 0) removeSignalHooks();
}

/** Stops every tracked postmaster and removes its directory. Synchronous: it runs in 'exit'. */
export function cleanupAll(): void {
  const clusters = [...tracked];
  tracked.clear();
  endSync(clusters.map((cluster) => cluster.livePid()).filter((pid) => pid !== undefined));
  for (const cluster of clusters) {
    if (cluster.keep) continue;
    try {
      releaseOrphanedSharedMemory(cluster.dataDir);
      // Server processes may still be exiting; retry instead of failing on ENOTEMPTY.
      rmSync(cluster.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    } catch {
      // Best effort: a throw here would replace the process's own exit status or error.
    }
  }
}

const EXIT_GRACE_MS = 2_000;

/**
 * Immediate shutdown (SIGQUIT) first: the postmaster then stops and reaps its
 * own children and removes its shared memory, which a SIGKILL would leave
 * behind. The event loop no longer runs here, so the wait is a synchronous
 * poll of /proc; where /proc is missing, or after the grace period, SIGKILL.
 */
function endSync(pids: number[]): void {
  const canWatch = existsSync('/proc/self/stat');
  for (const pid of pids) sendSignal(pid, canWatch ? 'SIGQUIT' : 'SIGKILL');
  if (!canWatch) return;
  const deadline = Date.now() + EXIT_GRACE_MS;
  let running = pids.filter(isRunning);
  while (running.length > 0 && Date.now() < deadline) {
    sleepSync(10);
    running = running.filter(isRunning);
  }
  for (const pid of running) sendSignal(pid, 'SIGKILL');
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** False once the process has exited: gone, or a zombie waiting for us (its parent) to reap it. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name.
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAll();
  removeSignalHooks();
  // Installing a listener replaced the default action (terminate). If nobody
  // else handles the signal, re-raise it so the process still dies from it,
  // with the conventional status (130 for SIGINT, 143 for SIGTERM).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installSignalHooks(): void {
  if (signalHooksInstalled) return;
  for (const signal of SIGNALS) process.on(signal, onSignal);
  signalHooksInstalled = true;
}

function removeSignalHooks(): void {
  if (!signalHooksInstalled) return;
  for (const signal of SIGNALS) process.off(signal, onSignal);
  signalHooksInstalled = false;
}
