import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { spawnChild } from '../process/child-process.js';
import { HarnessError, type HarnessStep } from './harness-error.js';
import type { OsUser } from './os-user.js';
import { serverEnv } from './server-env.js';

/** How a server process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnServerOptions {
  /** Absolute path of the binary (initdb, postgres). */
  command: string;
  args: readonly string[];
  /** Working directory; must be reachable by `owner`. */
  cwd: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Run as this OS user (requires root); `undefined` runs as the current user. */
  owner: OsUser | undefined;
  /**
   * Let Node exit while this process still runs. Used for the postmaster so a
   * test that forgets stop() does not hang; the exit hook then kills it.
   */
  unref?: boolean;
  /** Which harness step a spawn failure belongs to. */
  step: HarnessStep;
}

/**
 * A child process whose output goes to a log file, and whose PID the harness
 * owns (no pg_ctl in between, so signals reach the postmaster directly).
 */
export class ServerProcess {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, pid: number) {
    this.#child = child;
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#status = { code, signal };
        resolve(this.#status);
      });
    });
  }

  /**
   * Starts `command`. Resolves once the process exists (its PID is known).
   *
   * @throws HarnessError when the binary cannot be executed at all.
   */
  static async spawn(options: SpawnServerOptions): Promise<ServerProcess> {
    // Our own descriptor, so the server writes straight to the file with no pipe
    // for Node to drain, and the log survives this process.
    const log = openSync(options.logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawnChild(options.command, options.args, {
        cwd: options.cwd,
        ...serverEnv(),
        stdio: ['ignore', log, log],
        ...(options.owner ? { uid: options.owner.uid, gid: options.owner.gid } : {}),
      });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new HarnessError(options.step, `Could not run ${options.command}: ${error.message}`, {
        cause: error,
      });
    }
    // After a successful spawn, 'error' only reports failed kill() calls; exit is tracked instead.
    child.on('error', () => undefined);
    if (options.unref) child.unref();
    return new ServerProcess(child, pid);
  }

  /** How the process ended, or `undefined` while it runs. */
  get exitStatus(): ExitStatus | undefined {
    return this.#status;
  }

  get running(): boolean {
    return this.#status === undefined;
  }

  /** Sends `signal` unless the process has already exited (its PID may be reused). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.#child.kill(signal);
  }

  /** The exit status, or `undefined` if the process still runs after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus | undefined> {
    if (this.#status) return this.#status;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends `signal` and waits for the exit; escalates to SIGKILL when the
   * process is still there after `timeoutMs`.
   */
  async terminate(signal: NodeJS.Signals, timeoutMs: number): Promise<ExitStatus> {
    this.signal(signal);
    const status = await this.waitForExit(timeoutMs);
    if (status) return status;
    this.signal('SIGKILL');
    return this.exited;
  }
}
