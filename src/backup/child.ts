/**
 * pg_dump and pg_restore as child processes: the end of their stderr is kept
 * (redacted) for error messages, and a child is never left running: callers
 * `stop()` it on every failure path. The environment is allow-listed
 * (src/process/child-process.ts): the caller names what to set.
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { spawnChild, type ChildEnvOptions } from '../process/child-process.js';
import { redact } from '../redact/redactor.js';

const STDERR_TAIL = 8 * 1024;

export interface ToolProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects; spawn errors give code -1). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /** The last few KiB of stderr, redacted, trimmed. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnTool(
  path: string,
  args: readonly string[],
  env: ChildEnvOptions,
  stdio: StdioOptions,
): ToolProcess {
  const child = spawnChild(path, args, { ...env, stdio });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    tail = (tail + text).slice(-STDERR_TAIL);
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => {
        done = true;
        resolve({ code: -1, signal: null, error });
      });
      child.once('close', (code, signal) => {
        done = true;
        resolve({ code, signal });
      });
    },
  );
  return {
    child,
    exited,
    stderr: () => redact(tail).trim(),
    stop: async (graceMs = 5_000) => {
      if (done || child.exitCode !== null || child.signalCode !== null) {
        await exited;
        return;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last meaningful line(s) of a tool's stderr, for a one-line message. */
export function lastLines(text: string, lines = 3): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join(' | ');
}
