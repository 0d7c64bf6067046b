/**
 * The last stage of a pipeline into a child's stdin. Two guarantees the
 * plain `pipe()` lacks: on any upstream error the child is SIGKILLed before
 * its stdin closes (so pg_restore never mistakes a failure for a clean end
 * of input and commits a partial restore), and `beforeEnd` runs before the
 * final end-of-input (the whole-file hash is checked there).
 */
import { Writable } from 'node:stream';
import type { ToolProcess } from './child.js';
import { STREAM_BUFFER } from './format/constants.js';

export interface ToolSinkOptions {
  /** Runs once all data was written, before stdin is closed; throwing aborts the child. */
  beforeEnd?: () => void | Promise<void>;
  /**
   * What to do when the child closes its stdin before the end: `discard` the
   * rest (pg_restore --list reads only the table of contents) or `fail`.
   * Default `fail`. Once all input was written, a child that closes its end
   * and exits 0 has not failed: pg_restore ends when it has restored the
   * last entry, without waiting for the end of its input.
   */
  onEarlyClose?: 'discard' | 'fail';
}

export class ToolSink extends Writable {
  readonly #tool: ToolProcess;
  readonly #options: ToolSinkOptions;
  #closed = false;

  constructor(tool: ToolProcess, options: ToolSinkOptions = {}) {
    super({ highWaterMark: STREAM_BUFFER });
    this.#tool = tool;
    this.#options = options;
    const stdin = tool.child.stdin!;
    // EPIPE when the child stops reading; handled here so it is never an uncaught error.
    stdin.on('error', () => {
      this.#closed = true;
    });
    stdin.on('close', () => {
      this.#closed = true;
    });
  }

  #early(): Error | null {
    return this.#options.onEarlyClose === 'discard'
      ? null
      : Object.assign(new Error('the child process stopped reading its input'), { code: 'EPIPE' });
  }

  /**
   * The verdict when the child closed its stdin after all input was written:
   * its own exit status (a restore that stopped early exits non-zero, and its
   * error is the one to report), or nothing in `discard` mode.
   */
  #afterLastWrite(): Promise<Error | null> {
    if (this.#options.onEarlyClose === 'discard') return Promise.resolve(null);
    return this.#tool.exited.then(({ code }) => (code === 0 ? null : this.#early()));
  }

  /** The child's stdin can take no more: closed, or destroyed and about to emit 'close'. */
  #gone(): boolean {
    return this.#closed || this.#tool.child.stdin!.destroyed;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#gone()) {
      callback(this.#early());
      return;
    }
    const stdin = this.#tool.child.stdin!;
    if (stdin.write(chunk)) {
      callback();
      return;
    }
    const done = () => {
      stdin.removeListener('drain', done);
      stdin.removeListener('close', done);
      callback(this.#gone() ? this.#early() : null);
    };
    stdin.once('drain', done);
    stdin.once('close', done);
  }

  override _final(callback: (error?: Error | null) => void): void {
    Promise.resolve()
      .then(() => this.#options.beforeEnd?.())
      .then(
        () => {
          const stdin = this.#tool.child.stdin!;
          if (this.#gone()) {
            void this.#afterLastWrite().then(callback);
            return;
          }
          // end()'s callback never runs when the pipe closes before it
          // finishes (the child exited first: pg_restore --list reads only the
          // table of contents), and nothing else would hold the event loop:
          // the process would exit 0 mid-pipeline. So 'close' ends it too.
          let settled = false;
          const done = (error?: Error | null): void => {
            if (settled) return;
            settled = true;
            stdin.off('close', closed);
            callback(error ?? null);
          };
          const closed = (): void => void this.#afterLastWrite().then(done);
          stdin.once('close', closed);
          // An error here is the pipe going away under end(): the same early close.
          stdin.end((error?: Error | null) => {
            if (error && pipeGone(error, this.#gone())) closed();
            else done(error);
          });
        },
        (error: unknown) => callback(error as Error),
      );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) {
      this.#tool.child.kill('SIGKILL');
      this.#tool.child.stdin?.destroy();
    }
    callback(error);
  }
}

/** An error that says the reading end went away (EPIPE, or the stream destroyed under end()). */
function pipeGone(error: Error, gone: boolean): boolean {
  const code = (error as { code?: string }).code;
  return gone || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}
